"""Idempotency keys: the same key and body within the window return the original task."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from taskloom.store.database import Connection
from taskloom.store.tables import idempotency_keys

k = idempotency_keys


async def find_key(
    conn: Connection, *, organization_id: str, key: str, not_before: datetime
) -> tuple[str, str] | None:
    """(request_hash, task_id) of a live key, or None."""
    row = (
        await conn.execute(
            sa.select(k.c.request_hash, k.c.task_id).where(
                k.c.organization_id == organization_id, k.c.key == key, k.c.created_at >= not_before
            )
        )
    ).first()
    return None if row is None else (row.request_hash, row.task_id)


async def remember_key(
    conn: Connection,
    *,
    organization_id: str,
    key: str,
    request_hash: str,
    task_id: str,
    now: datetime,
    window: timedelta,
) -> None:
    # an expired entry for the same key is replaced, not kept alongside
    await conn.execute(
        sa.delete(k).where(
            k.c.organization_id == organization_id, k.c.key == key, k.c.created_at < now - window
        )
    )
    await conn.execute(
        sa.insert(k).values(
            organization_id=organization_id,
            key=key,
            request_hash=request_hash,
            task_id=task_id,
            created_at=now,
        )
    )
