"""Schedules: cron slots that invoke a workflow or an agent, fired once each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection
from taskloom.store.records import ScheduleRecord
from taskloom.store.tables import schedules

s = schedules


async def create_schedule(conn: Connection, values: dict[str, Any]) -> ScheduleRecord:
    await conn.execute(sa.insert(s).values(**values))
    return ScheduleRecord.from_row(values)


async def get_schedule(
    conn: Connection, *, organization_id: str, schedule_id: str
) -> ScheduleRecord:
    row = (
        (
            await conn.execute(
                sa.select(s).where(s.c.id == schedule_id, s.c.organization_id == organization_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise errors.NotFound(f"schedule {schedule_id} not found")
    return ScheduleRecord.from_row(row)


async def list_schedules(
    conn: Connection, *, organization_id: str, offset: int, limit: int
) -> tuple[list[ScheduleRecord], int]:
    mine = s.c.organization_id == organization_id
    total = (await conn.execute(sa.select(sa.func.count()).where(mine))).scalar_one()
    rows = await conn.execute(
        sa.select(s).where(mine).order_by(s.c.created_at, s.c.id).offset(offset).limit(limit)
    )
    return [ScheduleRecord.from_row(r) for r in rows.mappings()], int(total)


async def update_schedule(
    conn: Connection, *, organization_id: str, schedule_id: str, values: dict[str, Any]
) -> ScheduleRecord:
    await get_schedule(conn, organization_id=organization_id, schedule_id=schedule_id)
    await conn.execute(
        sa.update(s)
        .where(s.c.id == schedule_id, s.c.organization_id == organization_id)
        .values(**values)
    )
    return await get_schedule(conn, organization_id=organization_id, schedule_id=schedule_id)


async def delete_schedule(conn: Connection, *, organization_id: str, schedule_id: str) -> None:
    deleted = await conn.execute(
        sa.delete(s).where(s.c.id == schedule_id, s.c.organization_id == organization_id)
    )
    if deleted.rowcount == 0:
        raise errors.NotFound(f"schedule {schedule_id} not found")


async def due_schedules(
    conn: Connection, *, now: datetime, limit: int, skip_locked: bool
) -> list[ScheduleRecord]:
    """Enabled schedules whose next slot has come, oldest slot first (candidates: `advance`
    decides which caller fires a slot)."""
    due = (
        sa.select(s)
        .where(s.c.enabled.is_(True), s.c.next_fire_at.is_not(None), s.c.next_fire_at <= now)
        .order_by(s.c.next_fire_at)
        .limit(limit)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    return [ScheduleRecord.from_row(r) for r in (await conn.execute(due)).mappings()]


async def advance(
    conn: Connection,
    *,
    schedule_id: str,
    slot: datetime,
    next_fire_at: datetime | None,
    fired_task_id: str | None,
    now: datetime,
) -> bool:
    """Move the schedule past `slot` unless another caller did first; True when this one."""
    values: dict[str, Any] = {"next_fire_at": next_fire_at, "updated_at": now}
    if fired_task_id is not None:
        values |= {"last_fired_at": slot, "last_task_id": fired_task_id}
    moved = await conn.execute(
        sa.update(s).where(s.c.id == schedule_id, s.c.next_fire_at == slot).values(**values)
    )
    return moved.rowcount == 1
