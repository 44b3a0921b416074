"""The per-task event log behind SSE: ordered, gap-free sequence numbers, replayable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection
from taskloom.store.records import EventRecord, TaskStatus
from taskloom.store.tables import task_events, tasks

e = task_events


async def append_event(
    conn: Connection,
    *,
    task_id: str,
    type: str,
    data: Any,
    now: datetime,
    fence_attempt: int | None = None,
    task_values: dict[str, Any] | None = None,
) -> EventRecord:
    """Append the task's next event. Bumping the task's counter takes its row lock, so
    writers of one task's events queue up rather than collide on a sequence number.

    With `fence_attempt`, only that executing attempt may append (else LeaseLost);
    `task_values` are set on the task row in the same statement.
    """
    bump = sa.update(tasks).where(tasks.c.id == task_id)
    if fence_attempt is not None:
        bump = bump.where(tasks.c.attempt == fence_attempt, tasks.c.status == TaskStatus.EXECUTING)
    seq = (
        await conn.execute(
            bump.values(event_seq=tasks.c.event_seq + 1, **(task_values or {})).returning(
                tasks.c.event_seq
            )
        )
    ).scalar()
    if seq is None:
        raise errors.LeaseLost(task_id, fence_attempt or 0)
    record = EventRecord(task_id=task_id, seq=seq, type=type, data=data, created_at=now)
    await conn.execute(
        sa.insert(e).values(task_id=task_id, seq=seq, type=type, data=data, created_at=now)
    )
    return record


PAGE = 500


async def events_after(
    conn: Connection, *, task_id: str, after_seq: int, limit: int = PAGE
) -> list[EventRecord]:
    rows = await conn.execute(
        sa.select(e)
        .where(e.c.task_id == task_id, e.c.seq > after_seq)
        .order_by(e.c.seq)
        .limit(limit)
    )
    return [EventRecord.from_row(r) for r in rows.mappings()]
