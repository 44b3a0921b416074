"""Sub-tasks: a workflow's agent node runs its agent as a task of its own.

The child is an ordinary task (its own record, turns, events and tokens) with `parent_id`
set. Its id is fixed by the parent and the node, so every run of that node in a conversation
continues one child conversation: the agent sees the thread's history. A resumed parent
finds the child its node run started (by the node run's idempotency key) and waits for it
rather than starting another.

The child runs inline, in its parent's worker and slot: it is accepted already held by that
worker (executing, leased, on its first attempt, as a claim would leave it), its attempt is
awaited by the parent's node, and its outcome comes back without a re-read, a claim or a
wake-up. It is still a task of its own while it runs: the worker's heartbeat renews its
lease, a stop reaches it alone, and a crash leaves it to the sweep like any other. A parent
that resumes finds its child back in the queue and claims it the same way, or waits for it
where it runs; so does a parent whose child paused (it goes on in whichever worker claims it
after the decision).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from taskloom import errors
from taskloom.engine.intake import Intake, Invocation
from taskloom.engine.notify import Notifier
from taskloom.engine.tasks import TaskService
from taskloom.engine.wire import task_json
from taskloom.llm import Usage
from taskloom.nodes.base import NodeContext
from taskloom.nodes.ports import SubTaskResult
from taskloom.store import node_runs as node_run_store
from taskloom.store import tasks as task_store
from taskloom.store.database import Database
from taskloom.store.records import TaskRecord, TaskStatus

_CHILD_IDS = uuid.UUID("6f1c1a52-3d0e-4a53-9a57-3d8f7d3c2b10")
PARENT_KEY = "parent_node_run"  # in the child's request: the node run that started its turn
_WAIT_SLICE_S = 60.0


def child_id(parent_id: str, node_id: str) -> str:
    return str(uuid.uuid5(_CHILD_IDS, f"{parent_id}/{node_id}"))


class SubTasks:
    """The engine's side of the nodes' SubTaskRunner port."""

    def __init__(
        self, db: Database, intake: Intake, tasks: TaskService, notifier: Notifier
    ) -> None:
        self._db = db
        self._intake = intake
        self._tasks = tasks
        self._notifier = notifier

    async def run(
        self,
        ctx: NodeContext,
        *,
        agent_id: str,
        version: int | None,
        text: str,
        extra: dict[str, Any],
    ) -> SubTaskResult:
        org, target = ctx.organization_id, child_id(ctx.task_id, ctx.node_id)
        worker = self._notifier.worker_of(ctx.task_id)
        before = await self._started_by(org, target, ctx.idempotency_key)
        mine = before.turn if before is not None else None
        running: asyncio.Task[TaskRecord | None] | None = None
        started: TaskRecord | None = None  # the child as its turn started, held here
        if mine is None:
            request = {
                **extra,
                "source": "orchestration",
                "parent_execution_id": ctx.task_id,
                PARENT_KEY: ctx.idempotency_key,
                **_inherited(ctx.request),
            }
            try:
                accepted = await self._intake.invoke(
                    Invocation(
                        organization_id=org,
                        workflow_id=agent_id,
                        version=version,
                        input={"text": text},
                        request=request,
                        task_id=target,
                        parent_id=ctx.task_id,
                        held=worker.lease() if worker is not None else None,
                    )
                )
            except (errors.NotFound, errors.Conflict) as exc:
                raise errors.NodeFailed(f"agent {agent_id}: {exc}") from exc
            mine = accepted.turn
            await ctx.emit("sub_task_created", task_json(accepted.task))
            if accepted.held and worker is not None:
                started = accepted.task
                running = worker.run_held(started)
        elif worker is not None and before is not None and before.status == TaskStatus.PENDING:
            # a resumed parent whose child went back to the queue with it (else the child is
            # done, or runs elsewhere: it is waited for)
            running = await worker.run_now(target)
        child = await _outcome(running, mine) if running is not None else None
        if child is None:
            started = None  # its turn ended elsewhere, or not yet: read it from the store
            child = await self._settled(org, target, mine)
        await ctx.emit("sub_task_finished", task_json(child))
        if started is not None:
            # run here from its start: its turn's tokens are what its counts grew by
            usage = Usage(
                prompt_tokens=child.prompt_tokens - started.prompt_tokens,
                completion_tokens=child.completion_tokens - started.completion_tokens,
                unreported_calls=child.unreported_calls - started.unreported_calls,
            )
        else:
            async with self._db.read() as conn:
                prompt, completion, unreported = await node_run_store.turn_tokens(
                    conn, task_id=target, turn=mine
                )
            usage = Usage(
                prompt_tokens=prompt, completion_tokens=completion, unreported_calls=unreported
            )
        if child.status == TaskStatus.COMPLETED:
            return SubTaskResult(result=child.result, usage=usage)
        failure = errors.NodeFailed(
            f"agent {agent_id} ended {child.status.value}"
            + (f": {child.status_message}" if child.status_message else "")
        )
        failure.reason = child.status_reason or f"sub_task_{child.status.value}"
        failure.platform = child.status == TaskStatus.FAILED
        raise failure

    async def stop_children(self, *, organization_id: str, task_id: str) -> None:
        """Stop what is still running of the sub-tasks `task_id` started."""
        async with self._db.read() as conn:
            children = await task_store.children_of(conn, task_id=task_id)
        for child, status in children:
            if not status.is_terminal:
                await self._tasks.stop(organization_id=organization_id, task_id=child)

    async def _started_by(self, org: str, task_id: str, key: str) -> TaskRecord | None:
        """The child, when its current turn is the one this node run started before (a
        resumed parent)."""
        try:
            child = await self._tasks.get(organization_id=org, task_id=task_id)
        except errors.NotFound:
            return None
        return child if child.request.get(PARENT_KEY) == key else None

    async def _settled(self, org: str, task_id: str, turn: int) -> TaskRecord:
        """Wait for the child's turn to end where it runs (through its pauses)."""
        while True:
            child = await self._tasks.wait_settled(
                organization_id=org,
                task_id=task_id,
                timeout_s=_WAIT_SLICE_S,
                turn=turn,
                through_pause=True,
            )
            if child.status.is_terminal and child.turn >= turn:
                return child


async def _outcome(running: asyncio.Task[TaskRecord | None], turn: int) -> TaskRecord | None:
    """The child's turn as its inline attempt ended it; None when that attempt did not end it
    (it paused, was interrupted, lost its lease). A cancelled parent leaves the attempt
    running (`asyncio.wait` does not cancel what it waits for): the child's own stop, or the
    parent's finish, stops it, as it would a child running anywhere else."""
    await asyncio.wait([running])
    if running.cancelled():
        return None
    child = running.result()
    if child is None or not child.status.is_terminal or child.turn != turn:
        return None
    return child


def _inherited(request: dict[str, Any] | Any) -> dict[str, Any]:
    """What a child takes from its parent's invoke: the caller and the model overrides."""
    keys = ("llm_model_provider", "llm_model_name", "llm_reasoning_effort", "events_streaming")
    return {key: request[key] for key in keys if request.get(key) is not None}
