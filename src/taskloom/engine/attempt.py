"""One attempt's walk of a task's graph from START to END, node by node, with each node's
strategies (iterations, retries, stop conditions, timeouts) and parallel branches.

A node whose checkpoint an earlier attempt left is not run again: its stored output is
reused, so a resumed attempt picks up at the first unfinished node.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from taskloom import errors
from taskloom.clock import Clock
from taskloom.config import WorkerConfig
from taskloom.engine.checkpoints import Checkpoints, FinalRun, Finished, Reusable
from taskloom.engine.emitter import Emitter
from taskloom.engine.group_write import GroupWrite
from taskloom.engine.lifecycle import NODE_STARTED
from taskloom.engine.progress import StartNotice
from taskloom.nodes.base import JSON, NodeContext, NodeResult, NodeServices
from taskloom.nodes.registry import NODE_TYPES
from taskloom.nodes.self_schedule import RESCHEDULED
from taskloom.store.records import NodeRunRecord, NodeRunStatus, TaskRecord
from taskloom.workflows.conditions import matches
from taskloom.workflows.definition import OrchestrationNode
from taskloom.workflows.graph import Graph

if TYPE_CHECKING:
    from taskloom.engine.tracing import Tracing


def _most_final(group: BaseExceptionGroup[Exception]) -> Exception:
    for kind in (errors.LeaseLost, errors.StopRequested, errors.NodeFailed, errors.PauseRequested):
        matched = group.subgroup(kind)
        if matched is not None:
            return _first_leaf(matched)
    return _first_leaf(group)


def _first_leaf(group: BaseExceptionGroup[Exception]) -> Exception:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


def _rejected(output: JSON) -> bool:
    return isinstance(output, dict) and output.get("approved") is False


@dataclass
class Attempt:
    """The state of one attempt's walk: the graph, the checkpoints it may reuse, a step count."""

    task: TaskRecord
    graph: Graph
    reusable: Reusable
    emitter: Emitter
    checkpoints: Checkpoints
    recorder: GroupWrite[Finished]  # node runs that finish together share a transaction
    services: NodeServices
    config: WorkerConfig
    clock: Clock
    node_runs: int = 0
    # the last node's run, held for the transaction that ends the attempt (Checkpoints.hold)
    final: FinalRun | None = None
    tracing: Tracing | None = None  # with tracing on: a span per node run

    async def walk(self, data: JSON) -> JSON:
        node_id = self.graph.entry
        step = 0
        visits: Counter[str] = Counter()
        while node_id is not None:
            step += 1
            node = self.graph.resolve(self.graph.nodes[node_id])
            # no edge leaves it (and it cannot jump): whatever it returns, the walk ends after it
            last = not node.next_node_ids and node.type != "self_schedule"
            result = await self.run_node(
                node, data, step=str(step), visits=visits[node.id], last=last
            )
            visits[node.id] += 1
            data = result.output
            if result.end:
                break
            if node.type == "self_schedule" and result.route == RESCHEDULED:
                node_id = str(node.definition["target_node_id"])  # its timer fired
                continue
            if node.type == "wait" and _rejected(result.output):
                # a rejection never falls through to an unconditioned edge: it takes a route
                # whose condition matches it, or ends the run
                node_id = self.graph.conditioned_next(node, data, result.route)
                if node_id is None:
                    rejected = errors.NodeFailed(f"{node.label!r} was rejected")
                    rejected.reason = "rejected"
                    raise rejected
                continue
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

    async def run_node(
        self,
        node: OrchestrationNode,
        data: JSON,
        *,
        step: str,
        visits: int = 0,
        last: bool = False,
    ) -> NodeResult:
        """One node with its strategies: iterations, retries, stop conditions. The run of a
        `last` node (one iteration) is held for the attempt's end rather than written."""
        iterative = node.iterative_strategy
        iterations = iterative.max_iterations if iterative and iterative.enabled else 1
        result = NodeResult(output=data)
        for iteration in range(iterations):
            result = await self._run_once(
                node,
                result.output,
                step=step,
                iteration=iteration,
                visits=visits,
                hold=last and iterations == 1,
            )
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
        self,
        node: OrchestrationNode,
        data: JSON,
        *,
        step: str,
        iteration: int,
        visits: int,
        hold: bool,
    ) -> NodeResult:
        done = self.reusable.get((step, iteration))
        if done is not None:  # completed before a crash or a requeue: never run it again
            return NodeResult(output=done.output, route=done.route, end=node.type == "send_to_end")
        self.node_runs += 1
        if self.node_runs > self.config.max_node_runs:
            raise errors.NodeFailed(f"more than {self.config.max_node_runs} node runs in one turn")
        retry = node.retry_strategy
        retries_allowed = retry.max_retries if retry and retry.enabled else 0
        notice = self.checkpoints.start_notice(
            {
                "node_id": node.id,
                "node_name": node.label,
                "node_type": node.type,
                "step": step,
                "iteration": iteration,
                "attempt": self.task.attempt - self.task.attempt_base,
            },
            self.emitter,
        )
        try:
            for retries in range(retries_allowed + 1):
                started = self.clock.now()
                try:
                    result = await self._execute(
                        node, data, step=step, iteration=iteration, visits=visits, notice=notice
                    )
                except errors.PauseRequested as pause:
                    # a node that pauses at once has its start written with the pause
                    pause.started = await notice.settle()
                    raise
                except errors.NodeFailed as exc:
                    run = self._run(node, step, iteration, retries, started, None, None, exc)
                    await self.checkpoints.record(run, notice, self.recorder)
                    if retries < retries_allowed:
                        continue
                    return self._after_failure(node, data, exc)
                run = self._run(
                    node, step, iteration, retries, started, result.output, result.route, None
                )
                if result.usage is not None:
                    run = dataclasses.replace(
                        run,
                        prompt_tokens=result.usage.prompt_tokens,
                        completion_tokens=result.usage.completion_tokens,
                        unreported_calls=result.usage.unreported_calls,
                    )
                # its chunks and tool events go before its finish, in the same transaction
                if hold:
                    self.final = await self.checkpoints.hold(self.task, run, notice, self.emitter)
                else:
                    await self.checkpoints.record(run, notice, self.recorder)
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
        self,
        node: OrchestrationNode,
        data: JSON,
        *,
        step: str,
        iteration: int,
        visits: int,
        notice: StartNotice,
    ) -> NodeResult:
        kind = NODE_TYPES[node.type]

        async def emit(event: str, payload: Any) -> None:
            # the node's start goes out before anything of its own, in the same write
            started = await notice.settle()
            first = [(NODE_STARTED, *started)] if started is not None else []
            await self.emitter.emit(event, payload, first=first)

        config = kind.config_model.model_validate(node.definition)
        timeout_s = node.timeout_seconds or self.config.node_timeout_s
        key = f"{self.task.id}/{self.task.turn}/{node.id}@{step}/{iteration}"
        ctx = NodeContext(
            task_id=self.task.id,
            organization_id=self.task.organization_id,
            turn=self.task.turn,
            node_id=node.id,
            node_name=node.label,
            idempotency_key=key,
            timeout_s=timeout_s,
            services=self.services,
            request=self.task.request,
            run_children=lambda children, child_data: self._run_children(
                children, child_data, step=step
            ),
            emit=emit,
            history=lambda: self.checkpoints.history(self.task),
            visits=visits,
            now=self.clock.now,
        )
        span = (
            self.tracing.node(
                node_id=node.id,
                name=node.label,
                node_type=node.type,
                step=step,
                iteration=iteration,
                key=key,
            )
            if self.tracing
            else contextlib.nullcontext()
        )
        with span:
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
        except* (
            errors.LeaseLost,
            errors.StopRequested,
            errors.NodeFailed,
            errors.PauseRequested,
        ) as failed:
            # one branch's outcome ends the run (the group cancelled the others); the most
            # final one wins: a lost lease, then a stop, then a node failure, then a pause
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
            finished_at=self.clock.now(),
        )
