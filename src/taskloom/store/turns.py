"""Conversation turns: one row per input sent to a task id, with that turn's outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom.store.database import Connection
from taskloom.store.records import TurnRecord
from taskloom.store.tables import task_turns

QUEUED = "queued"  # sent while an earlier turn still ran; it starts when that one ends


async def add_turn(
    conn: Connection,
    *,
    task_id: str,
    turn: int,
    status: str,
    input: dict[str, Any],
    request: dict[str, Any],
    now: datetime,
) -> None:
    await conn.execute(
        sa.insert(task_turns).values(
            task_id=task_id,
            turn=turn,
            status=status,
            input=input,
            request=request,
            result=None,
            status_reason=None,
            created_at=now,
            started_at=None,
            finished_at=None,
        )
    )


async def close_turn(
    conn: Connection,
    *,
    task_id: str,
    turn: int,
    status: str,
    result: str | None,
    reason: str | None,
    started_at: datetime | None,
    finished_at: datetime,
) -> None:
    await conn.execute(
        sa.update(task_turns)
        .where(task_turns.c.task_id == task_id, task_turns.c.turn == turn)
        .values(
            status=status,
            result=result,
            status_reason=reason,
            started_at=started_at,
            finished_at=finished_at,
        )
    )


async def list_turns(conn: Connection, *, task_id: str) -> list[TurnRecord]:
    rows = await conn.execute(
        sa.select(task_turns).where(task_turns.c.task_id == task_id).order_by(task_turns.c.turn)
    )
    return [TurnRecord.from_row(r) for r in rows.mappings()]


async def next_queued_turn(conn: Connection, *, task_id: str) -> TurnRecord | None:
    row = (
        (
            await conn.execute(
                sa.select(task_turns)
                .where(task_turns.c.task_id == task_id, task_turns.c.status == QUEUED)
                .order_by(task_turns.c.turn)
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else TurnRecord.from_row(row)


async def last_turn_number(conn: Connection, *, task_id: str) -> int:
    found = await conn.execute(
        sa.select(sa.func.max(task_turns.c.turn)).where(task_turns.c.task_id == task_id)
    )
    return int(found.scalar() or 0)


async def drop_turn(conn: Connection, *, task_id: str, turn: int) -> None:
    await conn.execute(
        sa.delete(task_turns).where(task_turns.c.task_id == task_id, task_turns.c.turn == turn)
    )


async def drop_queued(conn: Connection, *, task_id: str) -> None:
    await conn.execute(
        sa.delete(task_turns).where(task_turns.c.task_id == task_id, task_turns.c.status == QUEUED)
    )
