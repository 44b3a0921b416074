"""Waits: a wait node's pause, its deadline and the decision that ends it.

A decision is made once: the UPDATE that records it only matches an undecided wait, so of
two approvers (or an approver and the deadline) exactly one wins, on either store, across
any number of processes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom.store.database import Connection
from taskloom.store.records import TaskStatus, WaitRecord
from taskloom.store.tables import tasks, waits

w = waits


async def open_wait(conn: Connection, wait: WaitRecord) -> None:
    """Record a pause; a wait already open under this key (an attempt that paused, then lost
    its lease before the pause was noticed) is kept as it is."""
    exists = await conn.execute(
        sa.select(w.c.key).where(w.c.task_id == wait.task_id, w.c.key == wait.key)
    )
    if exists.first() is None:
        await conn.execute(sa.insert(w).values(**_values(wait)))


async def get_wait(conn: Connection, *, task_id: str, key: str) -> WaitRecord | None:
    row = (
        (await conn.execute(sa.select(w).where(w.c.task_id == task_id, w.c.key == key)))
        .mappings()
        .first()
    )
    return None if row is None else WaitRecord.from_row(row)


async def latest_decided(conn: Connection, *, task_id: str, key_prefix: str) -> WaitRecord | None:
    """The last decided wait among those whose key starts with `key_prefix` (one node run's
    waits: an agent that asked for several approvals)."""
    row = (
        (
            await conn.execute(
                sa.select(w)
                .where(
                    w.c.task_id == task_id,
                    w.c.key.startswith(key_prefix, autoescape=True),
                    w.c.decided_at.is_not(None),
                )
                .order_by(w.c.created_at.desc(), w.c.key.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else WaitRecord.from_row(row)


async def wait_by_link(conn: Connection, *, token_hash: str) -> WaitRecord | None:
    row = (
        (await conn.execute(sa.select(w).where(w.c.link_token_hash == token_hash)))
        .mappings()
        .first()
    )
    return None if row is None else WaitRecord.from_row(row)


async def latest_wait(conn: Connection, *, task_id: str, turn: int) -> WaitRecord | None:
    """The wait this turn paused at last (decided or not)."""
    row = (
        (
            await conn.execute(
                sa.select(w)
                .where(w.c.task_id == task_id, w.c.turn == turn)
                .order_by(w.c.created_at.desc(), w.c.key.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else WaitRecord.from_row(row)


async def decide(
    conn: Connection, *, task_id: str, key: str, decision: dict[str, Any], now: datetime
) -> bool:
    """Record the decision unless one was made first; True when this one counts."""
    made = await conn.execute(
        sa.update(w)
        .where(w.c.task_id == task_id, w.c.key == key, w.c.decided_at.is_(None))
        .values(decision=decision, decided_at=now)
    )
    return made.rowcount == 1


async def due_waits(
    conn: Connection, *, now: datetime, limit: int, skip_locked: bool
) -> list[WaitRecord]:
    """Undecided waits whose deadline passed while their task still waits, oldest first.
    Candidates only: `decide()` is what makes one caller the one that fires it."""
    due = (
        sa.select(w)
        .join(tasks, tasks.c.id == w.c.task_id)
        .where(
            w.c.decided_at.is_(None),
            w.c.due_at.is_not(None),
            w.c.due_at <= now,
            tasks.c.status == TaskStatus.PAUSED,
        )
        .order_by(w.c.due_at)
        .limit(limit)
    )
    if skip_locked:  # PostgreSQL: sweepers of other processes take other rows
        due = due.with_for_update(of=w, skip_locked=True)
    return [WaitRecord.from_row(row) for row in (await conn.execute(due)).mappings()]


def _values(wait: WaitRecord) -> dict[str, Any]:
    return {
        "task_id": wait.task_id,
        "key": wait.key,
        "turn": wait.turn,
        "node_id": wait.node_id,
        "kind": wait.kind,
        "request": wait.request,
        "on_timeout": wait.on_timeout,
        "created_at": wait.created_at,
        "due_at": wait.due_at,
        "decision": wait.decision,
        "decided_at": wait.decided_at,
        "link_token_hash": wait.link_token_hash,
        "link_expires_at": wait.link_expires_at,
        "state": wait.state,
    }
