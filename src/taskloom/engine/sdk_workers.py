"""xpander-sdk workers (`@on_task`, docs/xpander-sdk.md): the user's own code runs the tasks of a
`container` agent.

A worker opens an event stream for its agent; taskloom registers it (`worker-registration`)
and hands it tasks (`agent-execution`) by leasing them to the worker's id, as its own workers
lease tasks. The worker's heartbeats renew those leases; a worker that disappears stops
heartbeating, its leases expire, and the sweeper hands its tasks on (or fails them with
`worker_lost` past `max_attempts`), exactly as for a lost engine worker. The worker reports a
task's outcome by PATCHing the task; `report` turns that into the task's terminal state.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from taskloom import errors
from taskloom.clock import Clock, SystemClock
from taskloom.config import WorkerConfig
from taskloom.engine import lifecycle
from taskloom.engine.notify import Notifier
from taskloom.engine.wire import iso, task_json
from taskloom.store import queue
from taskloom.store import tasks as task_store
from taskloom.store.database import Database
from taskloom.store.records import TaskRecord, TaskStatus

REGISTRATION = "worker-registration"
EXECUTION = "agent-execution"
_OUTCOMES = {
    "completed": TaskStatus.COMPLETED,
    "error": TaskStatus.ERROR,
    "failed": TaskStatus.FAILED,
    "stopped": TaskStatus.STOPPED,
}


@dataclass
class SdkWorker:
    id: str
    organization_id: str
    agent_id: str
    created_at: datetime
    last_heartbeat: datetime
    busy: bool = False

    def asset(self) -> dict[str, Any]:
        """`DeployedAsset`, the registration's payload."""
        return {
            "id": self.id,
            "name": self.id,
            "organization_id": self.organization_id,
            "type": "worker",
            "created_at": iso(self.created_at),
            "created_by": None,
            "last_heartbeat": iso(self.last_heartbeat),
            "configuration": None,
            "dedicated_agent_id": self.agent_id,
            "parent_asset_id": None,
            "is_busy": self.busy,
            "metadata": None,
        }


class SdkWorkers:
    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        config: WorkerConfig,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._db = db
        self._notifier = notifier
        self._config = config
        self._lease = timedelta(seconds=config.lease_s)
        self._connected: dict[str, SdkWorker] = {}

    async def session(
        self, *, organization_id: str, agent_id: str
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """The named events of one worker's stream: its registration, then its tasks."""
        worker = SdkWorker(
            id=f"sdk-worker-{uuid.uuid4().hex[:16]}",
            organization_id=organization_id,
            agent_id=agent_id,
            created_at=self._clock.now(),
            last_heartbeat=self._clock.now(),
        )
        self._connected[worker.id] = worker
        try:
            yield REGISTRATION, worker.asset()
            while True:
                claimed = [] if worker.busy else await self._claim(worker)
                for task in claimed:
                    yield EXECUTION, task_json(task)
                if not claimed:
                    await self._notifier.wait_for_any_work(self._config.poll_s)
        finally:
            # its leases stay: a worker that reconnects keeps heartbeating under its old id
            # until it registers anew; one that is gone lets them expire
            self._connected.pop(worker.id, None)

    async def _claim(self, worker: SdkWorker) -> list[TaskRecord]:
        now = self._clock.now()
        async with self._db.write() as conn:
            claimed = await queue.claim_for_sdk_worker(
                conn,
                organization_id=worker.organization_id,
                agent_id=worker.agent_id,
                worker_id=worker.id,
                limit=1,  # one at a time: the worker says when it is full (`is_busy`)
                now=now,
                lease_for=self._lease,
                skip_locked=not self._db.is_sqlite,
            )
            await lifecycle.publish_tasks(conn, claimed, lifecycle.TASK_UPDATED, now=now)
        for task in claimed:
            self._notifier.task_changed(task.id)
        return claimed

    def _mine(self, organization_id: str, worker_id: str) -> SdkWorker | None:
        worker = self._connected.get(worker_id)
        return worker if worker is not None and worker.organization_id == organization_id else None

    async def heartbeat(self, *, organization_id: str, worker_id: str) -> None:
        now = self._clock.now()
        worker = self._mine(organization_id, worker_id)
        if worker is not None:
            worker.last_heartbeat = now
        async with self._db.write() as conn:
            await queue.renew_owner_leases(
                conn,
                organization_id=organization_id,
                worker_id=worker_id,
                now=now,
                lease_for=self._lease,
            )

    def capacity(self, *, organization_id: str, worker_id: str, busy: bool) -> None:
        worker = self._mine(organization_id, worker_id)
        if worker is not None:
            worker.busy = busy
            if not busy:
                self._notifier.work_available()  # wake its stream to hand it the next task

    async def finished(self, *, organization_id: str, worker_id: str) -> None:
        """The worker shuts down: what it still holds goes back to the queue at once."""
        now = self._clock.now()
        async with self._db.write() as conn:
            released = await queue.release_leases(
                conn, worker_id=worker_id, now=now, organization_id=organization_id
            )
            await lifecycle.publish_tasks(conn, released, lifecycle.TASK_UPDATED, now=now)
        for task in released:
            self._notifier.task_changed(task.id)
        if released:
            self._notifier.work_available()

    async def report(
        self,
        task: TaskRecord,
        *,
        status: str | None,
        result: Any,
        tokens: dict[str, Any] | None,
    ) -> TaskRecord:
        """An SDK worker's word on a task it runs: a terminal `status` ends the task's turn
        with `result`. A task that is no longer executing (stopped, handed on) is left as it
        is: the worker's report comes too late."""
        outcome = _OUTCOMES.get(status or "")
        if outcome is None or task.status != TaskStatus.EXECUTING:
            return task
        now = self._clock.now()
        text = result if isinstance(result, str) or result is None else _json(result)
        async with self._db.write() as conn:
            try:
                done = await task_store.finish_task(
                    conn,
                    task_id=task.id,
                    attempt=task.attempt,
                    status=outcome,
                    result=text,
                    reason=None if outcome == TaskStatus.COMPLETED else "sdk_worker_reported",
                    message=None,
                    now=now,
                )
            except errors.LeaseLost:
                return task  # it changed under us: the newer state stands
            prompt, completion = _token_counts(tokens)
            if prompt or completion:
                await task_store.add_tokens(
                    conn, task_id=task.id, prompt_tokens=prompt, completion_tokens=completion
                )
                done = dataclasses.replace(
                    done,
                    prompt_tokens=done.prompt_tokens + prompt,
                    completion_tokens=done.completion_tokens + completion,
                )
            next_turn = await lifecycle.finished(conn, done, now=now)
        self._notifier.task_changed(task.id)
        if next_turn is not None:
            self._notifier.work_available()
        return done


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _token_counts(tokens: dict[str, Any] | None) -> tuple[int, int]:
    if not isinstance(tokens, dict):
        return 0, 0
    prompt, completion = tokens.get("prompt_tokens"), tokens.get("completion_tokens")
    return (
        prompt if isinstance(prompt, int) and prompt > 0 else 0,
        completion if isinstance(completion, int) and completion > 0 else 0,
    )
