"""Task state changes together with the events they publish, inside the caller's transaction.

Every change a subscriber could see is written in the same transaction as its event, so the
event log and the task never disagree, and a stream can be replayed from the store alone.

Event types (the contract's, plus node progress; all listed in docs/events.md):
`task_created`, `task_updated`, `task_paused`, `task_resumed`, `task_finished` carry the Task;
`hitl_requested` what a paused task waits for; `node_started` and `node_finished` a node run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from taskloom.engine import notifications
from taskloom.engine.wire import node_run_json, task_json
from taskloom.store import events as event_store
from taskloom.store import node_runs as node_run_store
from taskloom.store import tasks as task_store
from taskloom.store import turns as turn_store
from taskloom.store.database import Connection
from taskloom.store.records import EventRecord, Lease, NodeRunRecord, TaskRecord, TaskStatus

TASK_CREATED = "task_created"
TASK_UPDATED = "task_updated"
TASK_FINISHED = "task_finished"
TASK_PAUSED = "task_paused"
TASK_RESUMED = "task_resumed"
HITL_REQUESTED = "hitl_requested"
NODE_STARTED = "node_started"
NODE_FINISHED = "node_finished"


def task_event(task: TaskRecord, kind: str, now: datetime) -> EventRecord:
    """The event of a task-level change. Every store update that changes a task's status
    also bumps its `event_seq`: the returned row carries the number its event takes."""
    return EventRecord(
        task_id=task.id, seq=task.event_seq, type=kind, data=task_json(task), created_at=now
    )


async def publish_task(conn: Connection, task: TaskRecord, kind: str, *, now: datetime) -> None:
    await event_store.insert_events(conn, [task_event(task, kind, now)])


async def publish_tasks(
    conn: Connection, tasks: list[TaskRecord], kind: str, *, now: datetime
) -> None:
    await event_store.insert_events(conn, [task_event(task, kind, now) for task in tasks])


async def publish_started(conn: Connection, task: TaskRecord, *, now: datetime) -> None:
    """`task_created`, then the `task_updated` a claim would publish, for a task (or turn)
    accepted already held by the worker that runs it: the events of a claimed task, in one
    append."""
    queued = dataclasses.replace(
        task,
        status=TaskStatus.PENDING,
        event_seq=task.event_seq - 1,
        attempt=task.attempt - 1,
        lease_owner=None,
        lease_expires_at=None,
        started_at=None,
    )
    events = [task_event(queued, TASK_CREATED, now), task_event(task, TASK_UPDATED, now)]
    await event_store.insert_events(conn, events)


async def accept_task(
    conn: Connection, *, now: datetime, held: Lease | None = None, **values: Any
) -> TaskRecord:
    """A new task in the queue, its first turn and its `task_created` event; a `held` one is
    its worker's already (`task_store.create_task`)."""
    task = await task_store.create_task(conn, now=now, held=held, **values)
    await turn_store.add_turn(
        conn,
        task_id=task.id,
        turn=1,
        status=TaskStatus.PENDING,
        input=task.input,
        request=task.request,
        now=now,
    )
    if held is not None:
        await publish_started(conn, task, now=now)
    else:
        await publish_task(conn, task, TASK_CREATED, now=now)
    return task


async def accept_turn(
    conn: Connection,
    *,
    organization_id: str,
    task_id: str,
    agent_version: int,
    input: dict[str, Any],
    request: dict[str, Any],
    now: datetime,
    held: Lease | None = None,
) -> TaskRecord | None:
    """The next turn of a finished task; None while the previous turn still runs. A `held`
    turn is its worker's already (`task_store.start_turn`)."""
    task = await task_store.start_turn(
        conn,
        organization_id=organization_id,
        task_id=task_id,
        agent_version=agent_version,
        input=input,
        request=request,
        now=now,
        held=held,
    )
    if task is None:
        return None
    await turn_store.add_turn(
        conn,
        task_id=task.id,
        turn=task.turn,
        status=TaskStatus.PENDING,
        input=input,
        request=request,
        now=now,
    )
    if held is not None:
        await publish_started(conn, task, now=now)
    else:
        await publish_task(conn, task, TASK_CREATED, now=now)
    return task


async def queue_turn(
    conn: Connection,
    *,
    task_id: str,
    input: dict[str, Any],
    request: dict[str, Any],
    now: datetime,
) -> int:
    """Keep a turn sent while another runs; it starts when the running one ends."""
    # the task row's lock makes concurrent queuers take turns for the next number
    await task_store.lock_task(conn, task_id=task_id, now=now)
    turn = await turn_store.last_turn_number(conn, task_id=task_id) + 1
    await turn_store.add_turn(
        conn,
        task_id=task_id,
        turn=turn,
        status=turn_store.QUEUED,
        input=input,
        request=request,
        now=now,
    )
    return turn


async def finished(conn: Connection, task: TaskRecord, *, now: datetime) -> TaskRecord | None:
    """Close the turn that just ended, publish `task_finished`, and start a queued turn if
    there is one (returned, so the caller can wake the workers)."""
    await turn_store.close_turn(
        conn,
        task_id=task.id,
        turn=task.turn,
        status=task.status,
        result=task.result,
        reason=task.status_reason,
        started_at=task.started_at,
        finished_at=now,
    )
    await publish_task(conn, task, TASK_FINISHED, now=now)
    await notifications.queue_completion(conn, task, now=now)
    queued = await turn_store.next_queued_turn(conn, task_id=task.id)
    if queued is None:
        return None
    await turn_store.drop_turn(conn, task_id=task.id, turn=queued.turn)
    return await accept_turn(
        conn,
        organization_id=task.organization_id,
        task_id=task.id,
        agent_version=task.agent_version,
        input=queued.input,
        request=queued.request,
        now=now,
    )


async def paused(
    conn: Connection, task: TaskRecord, request: dict[str, Any], *, now: datetime
) -> None:
    """`task_paused`, then what the task waits for (unless it waits for a time alone)."""
    await publish_task(conn, task, TASK_PAUSED, now=now)
    if request.get("type") == "schedule":
        return
    await event_store.append_event(
        conn, task_id=task.id, type=HITL_REQUESTED, data=request, now=now
    )


async def node_started(
    conn: Connection, task: TaskRecord, *, node: dict[str, Any], now: datetime
) -> None:
    await event_store.append_event(
        conn, task_id=task.id, type=NODE_STARTED, data=node, now=now, fence_attempt=task.attempt
    )


async def node_finished(
    conn: Connection,
    task: TaskRecord,
    run: NodeRunRecord,
    *,
    started: tuple[dict[str, Any], datetime] | None = None,
    emitted: Sequence[tuple[str, Any, datetime]] = (),
) -> None:
    """Checkpoint a node run (fenced on the attempt) and publish it: its `node_started` when
    that is not out yet, the events the node emitted that are not written yet, then
    `node_finished`, in one append."""
    await nodes_finished(conn, task, [(run, started)], emitted=emitted)


async def nodes_finished(
    conn: Connection,
    task: TaskRecord,
    runs: Sequence[tuple[NodeRunRecord, tuple[dict[str, Any], datetime] | None]],
    *,
    emitted: Sequence[tuple[str, Any, datetime]] = (),
) -> None:
    """`node_finished` for node runs that ended together (a parallel node's branches), each
    with its `node_started` if that is not out yet: the starts, the events emitted meanwhile,
    then the finishes, in one append; the checkpoints in one insert. The task's last
    executed node is the last run's; the runs' tokens are added up."""
    starts = [(NODE_STARTED, started[0], started[1]) for _, started in runs if started]
    finishes = [(NODE_FINISHED, node_run_json(run), run.finished_at) for run, _ in runs]
    await event_store.append_events(
        conn,
        task_id=task.id,
        events=[*starts, *emitted, *finishes],
        fence_attempt=task.attempt,
        touch_node_id=runs[-1][0].node_id,
        tokens=(
            sum(run.prompt_tokens for run, _ in runs),
            sum(run.completion_tokens for run, _ in runs),
            sum(run.unreported_calls for run, _ in runs),
        ),
    )
    await node_run_store.record_node_runs(conn, [run for run, _ in runs])
