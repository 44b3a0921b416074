"""Outbound webhooks: each organization's signing secret, and the deliveries (queue and log)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection
from taskloom.store.records import DeliveryRecord, SigningSecretRecord
from taskloom.store.tables import webhook_deliveries, webhook_secrets

d = webhook_deliveries
k = webhook_secrets

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


async def signing_secret(conn: Connection, *, organization_id: str) -> SigningSecretRecord | None:
    row = (
        (await conn.execute(sa.select(k).where(k.c.organization_id == organization_id)))
        .mappings()
        .first()
    )
    return None if row is None else SigningSecretRecord.from_row(row)


async def create_signing_secret(
    conn: Connection, *, organization_id: str, secret: str, now: datetime
) -> None:
    await conn.execute(
        sa.insert(k).values(
            organization_id=organization_id,
            secret=secret,
            previous_secret=None,
            previous_until=None,
            created_at=now,
            rotated_at=None,
        )
    )


async def rotate_signing_secret(
    conn: Connection, *, organization_id: str, secret: str, keep_until: datetime, now: datetime
) -> None:
    await conn.execute(
        sa.update(k)
        .where(k.c.organization_id == organization_id)
        .values(
            previous_secret=k.c.secret, previous_until=keep_until, secret=secret, rotated_at=now
        )
    )


async def enqueue(conn: Connection, deliveries: list[dict[str, Any]]) -> None:
    if deliveries:
        await conn.execute(sa.insert(d), deliveries)


async def due(
    conn: Connection, *, now: datetime, limit: int, skip_locked: bool
) -> list[DeliveryRecord]:
    picked = (
        sa.select(d)
        .where(d.c.status == PENDING, d.c.next_attempt_at <= now)
        .order_by(d.c.next_attempt_at)
        .limit(limit)
    )
    if skip_locked:
        picked = picked.with_for_update(skip_locked=True)
    return [DeliveryRecord.from_row(r) for r in (await conn.execute(picked)).mappings()]


async def hold(conn: Connection, *, delivery_id: str, seen_at: datetime, until: datetime) -> bool:
    """Take a due delivery for one attempt: its next attempt moves to `until` (when a sender
    that died mid-attempt is given up on). False when another sender took it first."""
    held = await conn.execute(
        sa.update(d)
        .where(d.c.id == delivery_id, d.c.status == PENDING, d.c.next_attempt_at == seen_at)
        .values(next_attempt_at=until)
    )
    return held.rowcount == 1


async def record_attempt(
    conn: Connection,
    *,
    delivery_id: str,
    status: str,
    status_code: int | None,
    error: str | None,
    next_attempt_at: datetime | None,
    now: datetime,
) -> None:
    await conn.execute(
        sa.update(d)
        .where(d.c.id == delivery_id)
        .values(
            status=status,
            attempts=d.c.attempts + 1,
            last_status_code=status_code,
            last_error=error,
            next_attempt_at=next_attempt_at,
            delivered_at=now if status == DELIVERED else None,
        )
    )


async def get_delivery(
    conn: Connection, *, organization_id: str, delivery_id: str
) -> DeliveryRecord:
    row = (
        (
            await conn.execute(
                sa.select(d).where(d.c.id == delivery_id, d.c.organization_id == organization_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise errors.NotFound(f"delivery {delivery_id} not found")
    return DeliveryRecord.from_row(row)


async def list_deliveries(
    conn: Connection, *, organization_id: str, task_id: str | None, offset: int, limit: int
) -> tuple[list[DeliveryRecord], int]:
    where = [d.c.organization_id == organization_id]
    if task_id is not None:
        where.append(d.c.task_id == task_id)
    total = (await conn.execute(sa.select(sa.func.count()).where(*where))).scalar_one()
    rows = await conn.execute(
        sa.select(d)
        .where(*where)
        .order_by(d.c.created_at.desc(), d.c.id)
        .offset(offset)
        .limit(limit)
    )
    return [DeliveryRecord.from_row(r) for r in rows.mappings()], int(total)


async def redeliver(
    conn: Connection, *, organization_id: str, delivery_id: str, now: datetime
) -> DeliveryRecord:
    """Queue the delivery again at once, under the same id (a receiver deduplicates on it)."""
    await get_delivery(conn, organization_id=organization_id, delivery_id=delivery_id)
    await conn.execute(
        sa.update(d).where(d.c.id == delivery_id).values(status=PENDING, next_attempt_at=now)
    )
    return await get_delivery(conn, organization_id=organization_id, delivery_id=delivery_id)
