"""The queue: the task row is also the queue row. Claims lease pending tasks to a worker,
heartbeats renew the leases, the sweeper takes back the tasks of workers that went silent.
Every lease names its attempt, which fences the writes of a worker that lost it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from taskloom.store.database import Connection, HotStatement
from taskloom.store.records import Executor, TaskRecord, TaskStatus
from taskloom.store.tables import tasks

t = tasks


def _pick(*, skip_locked: bool) -> sa.Select[tuple[str]]:
    pick = (
        sa.select(t.c.id)
        .where(t.c.status == TaskStatus.PENDING, t.c.executor == Executor.ENGINE)
        .order_by(t.c.created_at)
        .limit(sa.bindparam("p_limit"))
    )
    if skip_locked:  # PostgreSQL; SQLite serialises writers instead
        pick = pick.with_for_update(skip_locked=True)
    return pick


# Two statements, not `UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`:
# PostgreSQL may plan that as a semi-join that re-runs the subquery per row and so claims
# every pending task, whatever the limit.
_PICK = {skip: _pick(skip_locked=skip) for skip in (False, True)}


_CLAIMED_AT = sa.bindparam("p_now", type_=t.c.started_at.type)


def _claim(executor: Executor, picked: sa.ColumnElement[bool] | None = None) -> sa.Update:
    """Lease the picked tasks (`p_ids`, or those `picked` says) that are still pending to
    `p_worker`."""
    if picked is None:
        picked = t.c.id.in_(sa.bindparam("p_ids", expanding=True))
    return (
        sa.update(t)
        .where(
            picked,
            t.c.status == TaskStatus.PENDING,
            t.c.executor == executor,
        )
        .values(
            status=TaskStatus.EXECUTING,
            lease_owner=sa.bindparam("p_worker"),
            lease_expires_at=sa.bindparam("p_expires", type_=t.c.lease_expires_at.type),
            attempt=t.c.attempt + 1,
            # the claimer read its clock before its query waited for the row: an invoke that
            # committed meanwhile may be younger than that reading
            started_at=sa.func.coalesce(
                t.c.started_at,
                sa.case(
                    (t.c.created_at > _CLAIMED_AT, t.c.created_at),
                    else_=_CLAIMED_AT,
                ),
            ),
            event_seq=t.c.event_seq + 1,  # its event: see lifecycle.publish_task
            updated_at=sa.bindparam("p_now", type_=t.c.updated_at.type),
        )
        .returning(*t.c)
    )


_CLAIM = _claim(Executor.ENGINE)
_CLAIM_FOR_SDK = _claim(Executor.SDK)
# SQLite: pick and lease in one prebuilt statement. Its writers are serialised, so the
# semi-join PostgreSQL may misplan (above) has nothing to race with; and a claim runs each
# time a slot frees, where two SQLAlchemy executions with an expanding `IN` cost more than
# the statements themselves.
_CLAIM_OLDEST = HotStatement(_claim(Executor.ENGINE, t.c.id.in_(_PICK[False].scalar_subquery())))


async def claim_tasks(
    conn: Connection,
    *,
    worker_id: str,
    limit: int,
    now: datetime,
    lease_for: timedelta,
    skip_locked: bool,
) -> list[TaskRecord]:
    """Lease up to `limit` pending tasks, oldest first, to this worker."""
    lease = {"p_worker": worker_id, "p_expires": now + lease_for, "p_now": now}
    rows: Sequence[Mapping[Any, Any]]
    if not skip_locked:  # SQLite
        rows = await conn.fetch(_CLAIM_OLDEST, {"p_limit": limit, **lease})
    else:
        ids = list((await conn.execute(_PICK[True], {"p_limit": limit})).scalars())
        if not ids:
            return []
        rows = (await conn.execute(_CLAIM, {"p_ids": ids, **lease})).mappings().all()
    return sorted((TaskRecord.from_row(r) for r in rows), key=lambda r: r.created_at)


async def claim_task_ids(
    conn: Connection,
    *,
    task_ids: Sequence[str],
    worker_id: str,
    now: datetime,
    lease_for: timedelta,
) -> list[TaskRecord]:
    """Claim these tasks if they are still pending (a sub-task its parent's worker runs)."""
    params = {
        "p_ids": list(task_ids),
        "p_worker": worker_id,
        "p_expires": now + lease_for,
        "p_now": now,
    }
    rows = (await conn.execute(_CLAIM, params)).mappings().all()
    return [TaskRecord.from_row(r) for r in rows]


async def renew_leases(
    conn: Connection,
    *,
    worker_id: str,
    task_ids: Sequence[str],
    now: datetime,
    lease_for: timedelta,
) -> dict[str, int]:
    """Extend the leases of the tasks this worker still runs; returns task id -> attempt it
    still owns. A lease it holds on a task it no longer runs is left to expire."""
    if not task_ids:
        return {}
    rows = await conn.execute(
        sa.update(t)
        .where(
            t.c.lease_owner == worker_id,
            t.c.status == TaskStatus.EXECUTING,
            t.c.id.in_(task_ids),
        )
        .values(lease_expires_at=now + lease_for)
        .returning(t.c.id, t.c.attempt)
    )
    return {row.id: row.attempt for row in rows}


async def claim_for_sdk_worker(
    conn: Connection,
    *,
    organization_id: str,
    agent_id: str,
    worker_id: str,
    limit: int,
    now: datetime,
    lease_for: timedelta,
    skip_locked: bool,
) -> list[TaskRecord]:
    """Claim pending tasks of a `container` agent for one connected xpander-sdk worker."""
    pick = (
        sa.select(t.c.id)
        .where(
            t.c.status == TaskStatus.PENDING,
            t.c.executor == Executor.SDK,
            t.c.agent_id == agent_id,
            t.c.organization_id == organization_id,
        )
        .order_by(t.c.created_at)
        .limit(limit)
    )
    if skip_locked:
        pick = pick.with_for_update(skip_locked=True)
    ids = list((await conn.execute(pick)).scalars())
    if not ids:
        return []
    params = {"p_ids": ids, "p_worker": worker_id, "p_expires": now + lease_for, "p_now": now}
    rows = await conn.execute(_CLAIM_FOR_SDK, params)
    return sorted((TaskRecord.from_row(r) for r in rows.mappings()), key=lambda r: r.created_at)


async def renew_owner_leases(
    conn: Connection, *, organization_id: str, worker_id: str, now: datetime, lease_for: timedelta
) -> int:
    """Extend every lease `worker_id` holds (an SDK worker's heartbeat); how many."""
    renewed = await conn.execute(
        sa.update(t)
        .where(
            t.c.organization_id == organization_id,
            t.c.lease_owner == worker_id,
            t.c.status == TaskStatus.EXECUTING,
        )
        .values(lease_expires_at=now + lease_for)
    )
    return int(renewed.rowcount or 0)


async def sweep_expired_leases(
    conn: Connection, *, now: datetime
) -> tuple[list[TaskRecord], list[TaskRecord]]:
    """Requeue tasks whose worker stopped heartbeating; fail those out of attempts.

    Returns the requeued and the failed tasks.
    """
    expired = (t.c.status == TaskStatus.EXECUTING, t.c.lease_expires_at < now)
    failed = await conn.execute(
        sa.update(t)
        .where(*expired, t.c.attempt - t.c.attempt_base >= t.c.max_attempts)
        .values(
            status=TaskStatus.FAILED,
            status_reason="worker_lost",
            status_message="the worker running this task stopped responding too many times",
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
            event_seq=t.c.event_seq + 1,  # its event: see lifecycle.publish_task
            updated_at=now,
        )
        .returning(*t.c)
    )
    failed_tasks = [TaskRecord.from_row(r) for r in failed.mappings()]
    requeued = await conn.execute(
        sa.update(t)
        .where(*expired)
        .values(
            status=TaskStatus.PENDING,
            lease_owner=None,
            lease_expires_at=None,
            event_seq=t.c.event_seq + 1,  # its event: see lifecycle.publish_task
            updated_at=now,
        )
        .returning(*t.c)
    )
    return [TaskRecord.from_row(r) for r in requeued.mappings()], failed_tasks


async def release_leases(
    conn: Connection, *, worker_id: str, now: datetime, organization_id: str | None = None
) -> list[TaskRecord]:
    """Put this worker's executing tasks back in the queue (graceful shutdown); an SDK
    worker's only within its organization."""
    mine = [t.c.lease_owner == worker_id, t.c.status == TaskStatus.EXECUTING]
    if organization_id is not None:
        mine.append(t.c.organization_id == organization_id)
    released = await conn.execute(
        sa.update(t)
        .where(*mine)
        .values(
            status=TaskStatus.PENDING,
            lease_owner=None,
            lease_expires_at=None,
            event_seq=t.c.event_seq + 1,  # its event: see lifecycle.publish_task
            updated_at=now,
        )
        .returning(*t.c)
    )
    return [TaskRecord.from_row(r) for r in released.mappings()]
