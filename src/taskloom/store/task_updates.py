"""Client edits of a task's echoed request fields (title, internal status, payload extension).

The engine owns a task's status and result; what a client may change lives in the task's
`request` JSON, which the Task object echoes. Each change moves the task's `event_seq`, so
the caller publishes it as the next event in the same transaction (see lifecycle.publish_task)
and cached views see a new version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection
from taskloom.store.records import TaskRecord
from taskloom.store.tables import tasks

t = tasks


async def lock_task(conn: Connection, *, organization_id: str, task_id: str) -> TaskRecord:
    """The task, with its row locked until the transaction ends (PostgreSQL; a SQLite write
    transaction holds the database lock already), so that a read-modify-write of its
    request cannot lose a concurrent one."""
    row = (
        (
            await conn.execute(
                sa.select(t)
                .where(t.c.id == task_id, t.c.organization_id == organization_id)
                .with_for_update()
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise errors.NotFound(f"task {task_id} not found")
    return TaskRecord.from_row(row)


async def replace_request(
    conn: Connection, *, task_id: str, request: dict[str, Any], now: datetime
) -> TaskRecord:
    """Store the task's new request and take the sequence number of the event announcing it."""
    row = (
        (
            await conn.execute(
                sa.update(t)
                .where(t.c.id == task_id)
                .values(
                    request=request,
                    event_seq=t.c.event_seq + 1,  # its event: see lifecycle.publish_task
                    updated_at=now,
                )
                .returning(*t.c)
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:  # deleted since it was locked (SQLite has no row lock to prevent it)
        raise errors.NotFound(f"task {task_id} not found")
    return TaskRecord.from_row(row)
