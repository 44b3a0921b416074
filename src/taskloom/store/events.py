"""The per-task event log behind SSE: ordered, gap-free sequence numbers, replayable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection, HotStatement
from taskloom.store.records import EventRecord, TaskStatus
from taskloom.store.tables import task_events, tasks

e = task_events
t = tasks

PAGE = 500


def _bump(*, fenced: bool, touch: bool) -> sa.Update:
    statement = sa.update(t).where(t.c.id == sa.bindparam("p_task_id"))
    if fenced:
        statement = statement.where(
            t.c.attempt == sa.bindparam("p_attempt"), t.c.status == TaskStatus.EXECUTING
        )
    values: dict[str, Any] = {"event_seq": t.c.event_seq + sa.bindparam("p_count")}
    if touch:  # a node run finished: it is the last executed node, and its tokens count
        values |= {
            "last_executed_node_id": sa.bindparam("p_node_id"),
            "updated_at": sa.bindparam("p_now", type_=t.c.updated_at.type),
            "prompt_tokens": t.c.prompt_tokens + sa.bindparam("p_prompt_tokens"),
            "completion_tokens": t.c.completion_tokens + sa.bindparam("p_completion_tokens"),
            "unreported_calls": t.c.unreported_calls + sa.bindparam("p_unreported_calls"),
        }
    return statement.values(values).returning(t.c.event_seq)


_BUMP = {
    (fenced, touch): HotStatement(_bump(fenced=fenced, touch=touch))
    for fenced in (False, True)
    for touch in (False, True)
}
_INSERT = HotStatement.insert(e)
_AFTER = (
    sa.select(e)
    .where(e.c.task_id == sa.bindparam("p_task_id"), e.c.seq > sa.bindparam("p_after"))
    .order_by(e.c.seq)
    .limit(sa.bindparam("p_limit"))
)


async def insert_events(conn: Connection, events: list[EventRecord]) -> None:
    """Store events whose sequence numbers the caller took already (with the task's update)."""
    rows = [
        {
            "task_id": r.task_id,
            "seq": r.seq,
            "type": r.type,
            "data": r.data,
            "created_at": r.created_at,
        }
        for r in events
    ]
    if rows:
        await conn.run(_INSERT, rows if len(rows) > 1 else rows[0])


async def append_event(
    conn: Connection,
    *,
    task_id: str,
    type: str,
    data: Any,
    now: datetime,
    fence_attempt: int | None = None,
    touch_node_id: str | None = None,
) -> EventRecord:
    """Append the task's next event (see append_events)."""
    appended = await append_events(
        conn,
        task_id=task_id,
        events=[(type, data, now)],
        fence_attempt=fence_attempt,
        touch_node_id=touch_node_id,
    )
    return appended[0]


async def append_events(
    conn: Connection,
    *,
    task_id: str,
    events: list[tuple[str, Any, datetime]],
    fence_attempt: int | None = None,
    touch_node_id: str | None = None,
    tokens: tuple[int, int, int] = (0, 0, 0),
) -> list[EventRecord]:
    """Append (type, data, time) events to the task's log, in order. Bumping the task's
    counter takes its row lock, so writers of one task's events queue up rather than
    collide on a sequence number.

    With `fence_attempt`, only that executing attempt may append (else LeaseLost);
    `touch_node_id` records the node as the task's last executed one in the same statement,
    and adds its (prompt, completion, unreported calls) `tokens` to the task's.
    """
    fenced, touch = fence_attempt is not None, touch_node_id is not None
    params = {
        "p_task_id": task_id,
        "p_count": len(events),
        "p_attempt": fence_attempt,
        "p_node_id": touch_node_id,
        "p_now": events[-1][2],
        "p_prompt_tokens": tokens[0],
        "p_completion_tokens": tokens[1],
        "p_unreported_calls": tokens[2],
    }
    bumped = await conn.fetch(_BUMP[fenced, touch], params)
    if not bumped:
        raise errors.LeaseLost(task_id, fence_attempt or 0)
    last: int = bumped[0]["event_seq"]
    first = last - len(events) + 1
    records = [
        EventRecord(task_id=task_id, seq=first + i, type=kind, data=data, created_at=at)
        for i, (kind, data, at) in enumerate(events)
    ]
    rows = [
        {
            "task_id": task_id,
            "seq": r.seq,
            "type": r.type,
            "data": r.data,
            "created_at": r.created_at,
        }
        for r in records
    ]
    await conn.run(_INSERT, rows if len(rows) > 1 else rows[0])
    return records


async def events_after(
    conn: Connection, *, task_id: str, after_seq: int, limit: int = PAGE
) -> list[EventRecord]:
    rows = await conn.execute(
        _AFTER, {"p_task_id": task_id, "p_after": after_seq, "p_limit": limit}
    )
    return [EventRecord.from_row(r) for r in rows.mappings()]
