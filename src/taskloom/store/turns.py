"""Conversation turns: one row per input sent to a task id, with that turn's outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection, HotStatement
from taskloom.store.records import TurnRecord
from taskloom.store.tables import task_turns

_INSERT = HotStatement.insert(task_turns)
_CLOSE = HotStatement(
    sa.update(task_turns)
    .where(
        task_turns.c.task_id == sa.bindparam("p_task_id"),
        task_turns.c.turn == sa.bindparam("p_turn"),
    )
    .values(
        status=sa.bindparam("p_status"),
        result=sa.bindparam("p_result"),
        status_reason=sa.bindparam("p_reason"),
        started_at=sa.bindparam("p_started", type_=task_turns.c.started_at.type),
        finished_at=sa.bindparam("p_finished", type_=task_turns.c.finished_at.type),
    )
)
QUEUED = "queued"
_NEXT_QUEUED = HotStatement(
    sa.select(task_turns)
    .where(task_turns.c.task_id == sa.bindparam("p_task_id"), task_turns.c.status == QUEUED)
    .order_by(task_turns.c.turn)
    .limit(1)
)  # sent while an earlier turn still ran; it starts when that one ends


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
    await conn.run(
        _INSERT,
        {
            "task_id": task_id,
            "turn": turn,
            "status": status,
            "input": input,
            "request": request,
            "result": None,
            "status_reason": None,
            "created_at": now,
            "started_at": None,
            "finished_at": None,
        },
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
    params = {
        "p_task_id": task_id,
        "p_turn": turn,
        "p_status": status,
        "p_result": result,
        "p_reason": reason,
        "p_started": started_at,
        "p_finished": finished_at,
    }
    await conn.run(_CLOSE, params)


async def list_turns(conn: Connection, *, task_id: str) -> list[TurnRecord]:
    rows = await conn.execute(
        sa.select(task_turns).where(task_turns.c.task_id == task_id).order_by(task_turns.c.turn)
    )
    return [TurnRecord.from_row(r) for r in rows.mappings()]


async def next_queued_turn(conn: Connection, *, task_id: str) -> TurnRecord | None:
    rows = await conn.fetch(_NEXT_QUEUED, {"p_task_id": task_id})
    return TurnRecord.from_row(rows[0]) if rows else None


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


async def get_turn(conn: Connection, *, task_id: str, turn: int) -> TurnRecord:
    row = (
        (
            await conn.execute(
                sa.select(task_turns).where(
                    task_turns.c.task_id == task_id, task_turns.c.turn == turn
                )
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise errors.NotFound(f"task {task_id} has no turn {turn}")
    return TurnRecord.from_row(row)
