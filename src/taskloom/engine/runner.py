"""The runner: takes one claimed attempt of a task to its outcome. It loads the graph, has
an `Attempt` walk it, and records how the attempt ended. Every write is fenced on the attempt
number: a runner that lost its lease cannot touch a newer attempt's task.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

from taskloom import errors, logs
from taskloom.clock import Clock, SystemClock
from taskloom.config import WorkerConfig
from taskloom.engine import lifecycle
from taskloom.engine.attempt import Attempt
from taskloom.engine.checkpoints import Checkpoints, FinalRun
from taskloom.engine.notify import Notifier
from taskloom.engine.subtasks import SubTasks
from taskloom.engine.versions import DRAFT_KEY, DRAFT_VERSION
from taskloom.engine.waits import Waits
from taskloom.nodes.base import NodeServices
from taskloom.store import tasks as task_store
from taskloom.store import workflows as workflow_store
from taskloom.store.database import Database
from taskloom.store.records import TaskRecord, TaskStatus
from taskloom.workflows.graph import Graph
from taskloom.workflows.inputs import first_node_input
from taskloom.workflows.output import shape_result

if TYPE_CHECKING:
    from taskloom.engine.tracing import Tracing

logger = logging.getLogger(__name__)


class GraphCache:
    """Deployed versions are immutable, so a parsed graph can be kept for as long as we like."""

    def __init__(self, db: Database, size: int = 256) -> None:
        self._db = db
        self._size = size
        self._graphs: OrderedDict[tuple[str, int], Graph] = OrderedDict()

    async def for_task(self, task: TaskRecord) -> Graph:
        draft = task.request.get(DRAFT_KEY)
        if task.agent_version == DRAFT_VERSION and isinstance(draft, dict):
            return Graph.from_definition(draft)  # an undeployed draft, snapshotted at invoke
        return await self.get(task.agent_id, task.agent_version)

    async def get(self, workflow_id: str, version: int) -> Graph:
        key = (workflow_id, version)
        graph = self._graphs.get(key)
        if graph is None:
            async with self._db.read() as conn:
                definition = await workflow_store.get_version(
                    conn, workflow_id=workflow_id, version=version
                )
            graph = Graph.from_definition(definition)
            self._graphs[key] = graph
            if len(self._graphs) > self._size:
                self._graphs.popitem(last=False)
        self._graphs.move_to_end(key)
        return graph


def _first_input(task: TaskRecord, graph: Graph) -> object:
    entry = graph.nodes.get(graph.entry) if graph.entry is not None else None
    return first_node_input(task.input, input_type=entry.input_type if entry else None)


class Runner:
    def __init__(
        self,
        db: Database,
        services: NodeServices,
        config: WorkerConfig,
        notifier: Notifier,
        *,
        waits: Waits,
        subtasks: SubTasks | None = None,
        clock: Clock | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._tracing = tracing
        self._subtasks = subtasks
        self._waits = waits
        self._db = db
        self._services = services
        self._config = config
        self._notifier = notifier
        self._graphs = GraphCache(db)
        self._checkpoints = Checkpoints(db, notifier, config, self._clock)

    async def run(self, task: TaskRecord) -> TaskRecord | None:
        """Run one claimed attempt to a terminal state (or until the lease is lost). Returns
        the task as the attempt left it: finished, or paused; None when it did not end it.
        What is logged meanwhile carries the task's ids; with tracing on, the attempt is a
        span."""
        turn_span = self._tracing.turn(task) if self._tracing else contextlib.nullcontext()
        with logs.task_scope(task.id, task.organization_id), turn_span:
            return await self._run(task)

    async def _run(self, task: TaskRecord) -> TaskRecord | None:
        try:
            try:
                graph = await self._graphs.for_task(task)
            except errors.NotFound:
                return await self._finish(
                    task,
                    TaskStatus.ERROR,
                    None,
                    "workflow_missing",
                    "the workflow version this task runs no longer exists",
                )
            emitter = self._checkpoints.emitter(task)
            attempt = Attempt(
                task=task,
                graph=graph,
                reusable=await self._checkpoints.reusable(task),
                emitter=emitter,
                checkpoints=self._checkpoints,
                recorder=self._checkpoints.recorder(task, emitter),
                services=self._services,
                config=self._config,
                clock=self._clock,
                tracing=self._tracing,
            )
            # the invoke may ask for another output format than the workflow's own
            output_format = task.request.get("output_format") or graph.spec.output_format
            try:
                try:
                    output = await attempt.walk(_first_input(task, graph))
                finally:
                    await attempt.emitter.close()
            # the last node's run was held back (Attempt.final): it is written with the end
            except errors.NodeFailed as exc:
                status = TaskStatus.FAILED if exc.platform else TaskStatus.ERROR
                return await self._finish(
                    task, status, None, exc.reason, errors.describe(exc), attempt.final
                )
            except errors.StopRequested as exc:
                result = shape_result(exc.output, output_format)
                return await self._finish(
                    task, TaskStatus.STOPPED, result, exc.reason, exc.message, attempt.final
                )
            except errors.PauseRequested as exc:
                if self._tracing is not None:
                    self._tracing.turn_finished(TaskStatus.PAUSED, None)
                if attempt.final is not None:
                    await self._checkpoints.write(task, attempt.final)
                return await self._waits.pause(task, exc)
            else:
                result = shape_result(output, output_format)
                return await self._finish(
                    task, TaskStatus.COMPLETED, result, None, None, attempt.final
                )
        except errors.LeaseLost:
            # stopped through the API, or requeued after we looked dead: not ours to finish
            logger.info(
                "lease lost",
                extra={"event": "lease_lost", "task_id": task.id, "attempt": task.attempt},
            )
            return None
        except errors.StoreUnavailable:
            # not the task's fault: the lease runs out and another attempt resumes it
            raise
        except Exception as exc:
            # a bug, not the workflow's fault: say so now rather than let the lease expire and
            # the same bug repeat on every attempt
            logger.exception("runner failed", extra={"event": "runner_failed", "task_id": task.id})
            # without a held last run: writing it may be what failed (a refused statement)
            return await self._finish(
                task, TaskStatus.ERROR, None, "internal_error", errors.describe(exc)
            )
        finally:
            self._notifier.task_changed(task.id)

    async def _finish(
        self,
        task: TaskRecord,
        status: TaskStatus,
        result: str | None,
        reason: str | None,
        message: str | None,
        final: FinalRun | None = None,
    ) -> TaskRecord:
        if self._tracing is not None:
            self._tracing.turn_finished(status, reason)
        now = self._clock.now()
        async with self._db.write() as conn:
            if final is not None:  # fenced on the attempt, like the finish
                await final.write(conn, task)
            done = await task_store.finish_task(
                conn,
                task_id=task.id,
                attempt=task.attempt,
                status=status,
                result=result,
                reason=reason,
                message=message,
                now=now,
            )
            next_turn = await lifecycle.finished(conn, done, now=now)
        if next_turn is not None:
            self._notifier.work_available()
        subtasks = self._subtasks
        if status != TaskStatus.COMPLETED and subtasks is not None:
            # a sub-task never outlives the turn that started it (e.g. an agent node that
            # timed out while its agent still runs)
            await subtasks.stop_children(organization_id=task.organization_id, task_id=task.id)
        return done
