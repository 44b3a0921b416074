"""Task history as the xpander SDK lists it: by agent or by user, with its filters."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from taskloom.store.database import Connection
from taskloom.store.records import TaskRecord, TaskStatus
from taskloom.store.tables import tasks

t = tasks


async def list_task_history(
    conn: Connection,
    *,
    organization_id: str,
    limit: int,
    offset: int = 0,
    agent_id: str | None = None,
    user_id: str | None = None,
    parent_task_id: str | None = None,
    triggering_agent_id: str | None = None,
    status: TaskStatus | None = None,
    internal_status: str | None = None,
) -> list[TaskRecord]:
    """Newest first. The request filters read the fields the Task object echoes."""
    where: list[sa.ColumnElement[bool]] = [t.c.organization_id == organization_id]
    if agent_id is not None:
        where.append(t.c.agent_id == agent_id)
    if status is not None:
        where.append(t.c.status == status)
    if user_id is not None:
        where.append(t.c.input["user"]["id"].as_string() == user_id)
    by_request: Sequence[tuple[str, str | None]] = (
        ("parent_execution_id", parent_task_id),
        ("triggering_agent_id", triggering_agent_id),
        ("internal_status", internal_status),
    )
    for field, wanted in by_request:
        if wanted is not None:
            where.append(t.c.request[field].as_string() == wanted)
    rows = await conn.execute(
        sa.select(t)
        .where(*where)
        .order_by(t.c.created_at.desc(), t.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [TaskRecord.from_row(r) for r in rows.mappings()]
