"""Task operations behind the API: accept an invoke, wait for an outcome, stop, delete."""

from __future__ import annotations

import time
import uuid
from typing import Any

from taskloom import errors
from taskloom.clock import utcnow
from taskloom.config import WorkerConfig
from taskloom.engine.notify import Notifier
from taskloom.engine.worker import Worker
from taskloom.store import node_runs as node_run_store
from taskloom.store import tasks as task_store
from taskloom.store import workflows as workflow_store
from taskloom.store.database import Database
from taskloom.store.records import NodeRunRecord, TaskRecord

# in-process changes wake waiters at once; this re-read covers tasks run by other processes
_RECHECK_S = 0.1


class TaskService:
    def __init__(
        self, db: Database, notifier: Notifier, worker: Worker | None, config: WorkerConfig
    ) -> None:
        self._db = db
        self._notifier = notifier
        self._worker = worker
        self._config = config

    async def invoke_workflow(
        self,
        *,
        organization_id: str,
        workflow_id: str,
        version: int | None,
        task_input: dict[str, Any],
        request: dict[str, Any],
        task_id: str | None,
    ) -> TaskRecord:
        """Accept a run: the task is in the store (and the queue) before this returns."""
        async with self._db.write() as conn:
            workflow = await workflow_store.get_workflow(
                conn, organization_id=organization_id, workflow_id=workflow_id
            )
            if workflow.latest_version is None:
                raise errors.Conflict(
                    f"workflow {workflow_id} has never been deployed: deploy it with "
                    "PUT /v1/workflows/{id} or PATCH ?deploy=true first"
                )
            if version is None:
                version = workflow.latest_version
            elif not 1 <= version <= workflow.latest_version:
                raise errors.NotFound(f"workflow {workflow_id} has no version {version}")
            if task_id is not None and await task_store.task_exists(conn, task_id=task_id):
                raise errors.Conflict(
                    f"task {task_id} already exists; continuing a conversation is not "
                    "supported for this task"
                )
            task = await task_store.create_task(
                conn,
                task_id=task_id or str(uuid.uuid4()),
                organization_id=organization_id,
                agent_id=workflow_id,
                agent_version=version,
                input=task_input,
                request=request,
                max_attempts=self._config.max_attempts,
                now=utcnow(),
            )
        self._notifier.work_available()
        return task

    async def get(self, *, organization_id: str, task_id: str) -> TaskRecord:
        async with self._db.read() as conn:
            return await task_store.get_task(conn, organization_id=organization_id, task_id=task_id)

    async def get_with_trace(
        self, *, organization_id: str, task_id: str
    ) -> tuple[TaskRecord, list[NodeRunRecord]]:
        async with self._db.read() as conn:
            task = await task_store.get_task(conn, organization_id=organization_id, task_id=task_id)
            trace = await node_run_store.list_node_runs(conn, task_ids=[task_id])
        return task, trace[task_id]

    async def wait_terminal(
        self, *, organization_id: str, task_id: str, timeout_s: float
    ) -> TaskRecord:
        """The task once it is terminal, or as it stands when `timeout_s` runs out."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._notifier.watch(task_id) as watch:
                task = await self.get(organization_id=organization_id, task_id=task_id)
                remaining = deadline - time.monotonic()
                if task.status.is_terminal or remaining <= 0:
                    return task
                await watch.wait(min(remaining, _RECHECK_S))

    async def stop(self, *, organization_id: str, task_id: str) -> TaskRecord:
        async with self._db.write() as conn:
            task = await task_store.stop_task(
                conn, organization_id=organization_id, task_id=task_id, now=utcnow()
            )
        if self._worker is not None:
            # interrupt it now if it runs here; elsewhere its worker's heartbeat sees the stop
            self._worker.cancel(task_id)
        self._notifier.task_changed(task_id)
        return task

    async def delete(self, *, organization_id: str, task_id: str) -> None:
        await self.stop(organization_id=organization_id, task_id=task_id)
        async with self._db.write() as conn:
            await task_store.delete_task(conn, organization_id=organization_id, task_id=task_id)
