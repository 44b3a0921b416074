"""The graph runner: walks one claimed attempt of a task from START to END, node by node.

Before a node runs its checkpoint is looked up, so a resumed attempt reuses every node that
already completed and picks up at the first unfinished one. Every write is fenced on the
attempt number: a runner that lost its lease cannot touch a newer attempt's task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from taskloom import errors
from taskloom.clock import Clock, SystemClock
from taskloom.config import WorkerConfig
from taskloom.engine import lifecycle
from taskloom.engine.emitter import Emitter
from taskloom.engine.notify import Notifier
from taskloom.engine.progress import StartNotice
from taskloom.engine.subtasks import SubTasks
from taskloom.engine.versions import DRAFT_KEY, DRAFT_VERSION
from taskloom.llm import Message
from taskloom.nodes.base import JSON, NodeContext, NodeResult, NodeServices
from taskloom.nodes.registry import NODE_TYPES
from taskloom.store import events as event_store
from taskloom.store import node_runs as node_run_store
from taskloom.store import tasks as task_store
from taskloom.store import turns as turn_store
from taskloom.store import workflows as workflow_store
from taskloom.store.database import Database
from taskloom.store.records import NodeRunRecord, NodeRunStatus, TaskRecord, TaskStatus
from taskloom.workflows.conditions import matches
from taskloom.workflows.definition import OrchestrationNode
from taskloom.workflows.graph import Graph
from taskloom.workflows.output import shape_result

logger = logging.getLogger(__name__)


def _most_final(group: BaseExceptionGroup[Exception]) -> Exception:
    for kind in (errors.LeaseLost, errors.StopRequested, errors.NodeFailed):
        matched = group.subgroup(kind)
        if matched is not None:
            return _first_leaf(matched)
    return _first_leaf(group)


def _first_leaf(group: BaseExceptionGroup[Exception]) -> Exception:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


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


class Runner:
    def __init__(
        self,
        db: Database,
        services: NodeServices,
        config: WorkerConfig,
        notifier: Notifier,
        *,
        subtasks: SubTasks | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._subtasks = subtasks
        self._db = db
        self._services = services
        self._config = config
        self._notifier = notifier
        self._graphs = GraphCache(db)

    async def run(self, task: TaskRecord) -> None:
        """Run one claimed attempt to a terminal state (or until the lease is lost)."""
        try:
            try:
                graph = await self._graphs.for_task(task)
            except errors.NotFound:
                await self._finish(
                    task,
                    TaskStatus.ERROR,
                    None,
                    "workflow_missing",
                    "the workflow version this task runs no longer exists",
                )
                return
            checkpoints: dict[tuple[str, int], NodeRunRecord] = {}
            if task.attempt - task.attempt_base > 1:
                # only an earlier attempt of this turn can have left checkpoints: every claim
                # counts an attempt, and a turn starts counting afresh (`attempt_base`)
                async with self._db.read() as conn:
                    checkpoints = await node_run_store.completed_outputs(
                        conn, task_id=task.id, turn=task.turn
                    )
            attempt = _Attempt(self, task, graph, checkpoints, self.emitter(task))
            # the invoke may ask for another output format than the workflow's own
            output_format = task.request.get("output_format") or graph.spec.output_format
            try:
                try:
                    output = await attempt.walk(task.input.get("text", ""))
                finally:
                    await attempt.emitter.close()
            except errors.NodeFailed as exc:
                status = TaskStatus.FAILED if exc.platform else TaskStatus.ERROR
                await self._finish(task, status, None, exc.reason, errors.describe(exc))
            except errors.StopRequested as exc:
                result = shape_result(exc.output, output_format)
                await self._finish(task, TaskStatus.STOPPED, result, exc.reason, exc.message)
            else:
                result = shape_result(output, output_format)
                await self._finish(task, TaskStatus.COMPLETED, result, None, None)
        except errors.LeaseLost:
            # stopped through the API, or requeued after we looked dead: not ours to finish
            logger.info(
                "lease lost",
                extra={"event": "lease_lost", "task_id": task.id, "attempt": task.attempt},
            )
        except errors.StoreUnavailable:
            # not the task's fault: the lease runs out and another attempt resumes it
            raise
        except Exception as exc:
            # a bug, not the workflow's fault: say so now rather than let the lease expire and
            # the same bug repeat on every attempt
            logger.exception("runner failed", extra={"event": "runner_failed", "task_id": task.id})
            await self._finish(task, TaskStatus.ERROR, None, "internal_error", errors.describe(exc))
        finally:
            self._notifier.task_changed(task.id)

    async def _finish(
        self,
        task: TaskRecord,
        status: TaskStatus,
        result: str | None,
        reason: str | None,
        message: str | None,
    ) -> None:
        now = self._clock.now()
        async with self._db.write() as conn:
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

    def start_notice(self, task: TaskRecord, node: dict[str, Any]) -> StartNotice:
        async def publish(payload: dict[str, Any], at: datetime) -> None:
            async with self._db.write() as conn:
                await lifecycle.node_started(conn, task, node=payload, now=at)

        return StartNotice(node, delay_s=self._config.progress_delay_s, publish=publish)

    def emitter(self, task: TaskRecord) -> Emitter:
        async def write(events: list[tuple[str, Any, datetime]]) -> None:
            async with self._db.write() as conn:
                await event_store.append_events(
                    conn, task_id=task.id, events=events, fence_attempt=task.attempt
                )
            self._notifier.task_changed(task.id)

        return Emitter(write, delay_s=self._config.progress_delay_s)

    async def history(self, task: TaskRecord) -> list[Message]:
        """The conversation before this turn: each earlier turn's input, then its result."""
        if task.turn <= 1:
            return []  # the first turn has no conversation before it
        async with self._db.read() as conn:
            turns = await turn_store.list_turns(conn, task_id=task.id)
        messages: list[Message] = []
        for turn in turns:
            if turn.turn >= task.turn:
                break
            messages.append(Message("user", str(turn.input.get("text", ""))))
            if turn.result is not None:
                messages.append(Message("assistant", turn.result))
        return messages

    async def checkpoint(
        self, task: TaskRecord, run: NodeRunRecord, notice: StartNotice, emitter: Emitter
    ) -> None:
        """Record a node run in one transaction, after the events the node emitted that are
        not written yet, and its `node_started` if that is not out yet."""
        started = await notice.settle()

        async def write(events: list[tuple[str, Any, datetime]]) -> None:
            async with self._db.write() as conn:
                await lifecycle.node_finished(conn, task, run, started=started, emitted=events)
            if events:
                self._notifier.task_changed(task.id)

        await emitter.flush(write)


@dataclass
class _Attempt:
    """The state of one attempt's walk: the graph, the checkpoints it may reuse, a step count."""

    runner: Runner
    task: TaskRecord
    graph: Graph
    checkpoints: dict[tuple[str, int], NodeRunRecord]
    emitter: Emitter
    node_runs: int = 0

    async def walk(self, data: JSON) -> JSON:
        node_id = self.graph.entry
        step = 0
        while node_id is not None:
            step += 1
            node = self.graph.resolve(self.graph.nodes[node_id])
            result = await self.run_node(node, data, step=str(step))
            data = result.output
            if result.end:
                break
            if node.type == "guardrail" and result.route == "fail":
                # a failed check never falls through to an unconditioned edge: it takes its
                # fail route, or ends the run
                node_id = self.graph.route_edge(node, "fail")
                if node_id is None:
                    raise errors.GuardrailFailed(
                        f"guardrail {node.label!r} failed and has no fail route"
                    )
                continue
            node_id = self.graph.next_node(node, data, result.route)
        return data

    async def run_node(self, node: OrchestrationNode, data: JSON, *, step: str) -> NodeResult:
        """One node with its strategies: iterations, retries, stop conditions."""
        iterative = node.iterative_strategy
        iterations = iterative.max_iterations if iterative and iterative.enabled else 1
        result = NodeResult(output=data)
        for iteration in range(iterations):
            result = await self._run_once(node, result.output, step=step, iteration=iteration)
            if result.end:
                break
            end_condition = iterative.end_condition if iterative else None
            if end_condition is not None and matches(
                end_condition, result.output, route=result.route
            ):
                break
        stop = node.stop_strategy
        stop_on = stop.stop_on_condition if stop and stop.enabled else None
        if stop_on is not None and matches(stop_on, result.output, route=result.route):
            raise errors.StopRequested(
                "stop_condition", result.output, f"node {node.label!r} met its stop condition"
            )
        return result

    async def _run_once(
        self, node: OrchestrationNode, data: JSON, *, step: str, iteration: int
    ) -> NodeResult:
        done = self.checkpoints.get((step, iteration))
        if done is not None:  # completed before a crash or a requeue: never run it again
            return NodeResult(output=done.output, route=done.route, end=node.type == "send_to_end")
        self.node_runs += 1
        if self.node_runs > self.runner._config.max_node_runs:
            raise errors.NodeFailed(
                f"more than {self.runner._config.max_node_runs} node runs in one turn"
            )
        retry = node.retry_strategy
        retries_allowed = retry.max_retries if retry and retry.enabled else 0
        notice = self.runner.start_notice(
            self.task,
            {
                "node_id": node.id,
                "node_name": node.label,
                "node_type": node.type,
                "step": step,
                "iteration": iteration,
                "attempt": self.task.attempt - self.task.attempt_base,
            },
        )
        try:
            for retries in range(retries_allowed + 1):
                started = self.runner._clock.now()
                try:
                    result = await self._execute(node, data, step=step, iteration=iteration)
                except errors.NodeFailed as exc:
                    run = self._run(node, step, iteration, retries, started, None, None, exc)
                    await self.runner.checkpoint(self.task, run, notice, self.emitter)
                    if retries < retries_allowed:
                        continue
                    return self._after_failure(node, data, exc)
                run = self._run(
                    node, step, iteration, retries, started, result.output, result.route, None
                )
                run = dataclasses.replace(
                    run,
                    prompt_tokens=result.usage.prompt_tokens if result.usage else 0,
                    completion_tokens=result.usage.completion_tokens if result.usage else 0,
                )
                # its chunks and tool events go before its finish, in the same transaction
                await self.runner.checkpoint(self.task, run, notice, self.emitter)
                return result
        finally:
            notice.cancel()
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _after_failure(
        self, node: OrchestrationNode, data: JSON, exc: errors.NodeFailed
    ) -> NodeResult:
        stop = node.stop_strategy
        if stop is None or not stop.enabled:
            raise exc
        if stop.stop_on_failure:
            raise errors.StopRequested(
                "stop_on_failure", data, f"node {node.label!r} failed: {errors.describe(exc)}"
            ) from exc
        return NodeResult(output=data)  # carry on past the failed node with its input

    async def _execute(
        self, node: OrchestrationNode, data: JSON, *, step: str, iteration: int
    ) -> NodeResult:
        kind = NODE_TYPES[node.type]
        config = kind.config_model.model_validate(node.definition)
        timeout_s = node.timeout_seconds or self.runner._config.node_timeout_s
        ctx = NodeContext(
            task_id=self.task.id,
            organization_id=self.task.organization_id,
            turn=self.task.turn,
            node_id=node.id,
            node_name=node.label,
            idempotency_key=f"{self.task.id}/{self.task.turn}/{node.id}@{step}/{iteration}",
            timeout_s=timeout_s,
            services=self.runner._services,
            request=self.task.request,
            run_children=lambda children, child_data: self._run_children(
                children, child_data, step=step
            ),
            emit=self.emitter.emit,
            history=lambda: self.runner.history(self.task),
        )
        try:
            async with asyncio.timeout(timeout_s):
                return await kind.run(ctx, config, data)
        except TimeoutError as exc:
            raise errors.NodeTimeout(
                f"node {node.label!r} ran longer than {timeout_s:g} s"
            ) from exc

    async def _run_children(
        self, children: Sequence[dict[str, Any]], data: JSON, *, step: str
    ) -> list[tuple[str, JSON]]:
        nodes = [OrchestrationNode.model_validate(child) for child in children]
        try:
            async with asyncio.TaskGroup() as group:
                runs = [
                    group.create_task(
                        self.run_node(self.graph.resolve(child), data, step=f"{step}.{index}"),
                        name=f"node:{self.task.id}:{child.id}",
                    )
                    for index, child in enumerate(nodes)
                ]
        except* (errors.LeaseLost, errors.StopRequested, errors.NodeFailed) as failed:
            # one branch's outcome ends the run (the group cancelled the others); the most
            # final one wins: a lost lease, then a stop, then a node failure
            raise _most_final(failed) from None
        return [(child.label, run.result().output) for child, run in zip(nodes, runs, strict=True)]

    def _run(
        self,
        node: OrchestrationNode,
        step: str,
        iteration: int,
        retries: int,
        started: datetime,
        output: JSON,
        route: str | None,
        failure: errors.NodeFailed | None,
    ) -> NodeRunRecord:
        return NodeRunRecord(
            task_id=self.task.id,
            turn=self.task.turn,
            step=step,
            iteration=iteration,
            node_id=node.id,
            node_name=node.label,
            node_type=node.type,
            status=NodeRunStatus.FAILED if failure else NodeRunStatus.COMPLETED,
            task_attempt=self.task.attempt - self.task.attempt_base,  # counted per turn
            retries=retries,
            output=output,
            route=route,
            error=errors.describe(failure) if failure else None,
            started_at=started,
            finished_at=self.runner._clock.now(),
        )
