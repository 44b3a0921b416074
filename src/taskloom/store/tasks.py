"""Task queries: the task row is also the queue row, so claiming, leases and fencing live here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection
from taskloom.store.records import TERMINAL_STATUSES, TaskRecord, TaskStatus
from taskloom.store.tables import node_runs, task_events, task_turns, tasks

t = tasks
# who runs a task: taskloom's own workers, or a user's xpander-sdk worker (`@on_task`)
ENGINE = "engine"
SDK = "sdk"
_INSERT = sa.insert(t)
_GET = sa.select(t).where(
    t.c.id == sa.bindparam("p_task_id"), t.c.organization_id == sa.bindparam("p_org")
)


def _pick(*, skip_locked: bool) -> sa.Select[tuple[str]]:
    pick = (
        sa.select(t.c.id)
        .where(t.c.status == TaskStatus.PENDING, t.c.executor == ENGINE)
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


def _claim(executor: str) -> sa.Update:
    """Lease the picked tasks (`p_ids`) that are still pending to `p_worker`."""
    return (
        sa.update(t)
        .where(
            t.c.id.in_(sa.bindparam("p_ids", expanding=True)),
            t.c.status == TaskStatus.PENDING,
            t.c.executor == executor,
        )
        .values(
            status=TaskStatus.EXECUTING,
            lease_owner=sa.bindparam("p_worker"),
            lease_expires_at=sa.bindparam("p_expires", type_=t.c.lease_expires_at.type),
            attempt=t.c.attempt + 1,
            started_at=sa.func.coalesce(
                t.c.started_at, sa.bindparam("p_now", type_=t.c.started_at.type)
            ),
            event_seq=t.c.event_seq + 1,  # its event: see lifecycle.publish_task
            updated_at=sa.bindparam("p_now", type_=t.c.updated_at.type),
        )
        .returning(*t.c)
    )


_CLAIM = _claim(ENGINE)
_CLAIM_FOR_SDK = _claim(SDK)
_VERSION = sa.select(t.c.event_seq).where(
    t.c.id == sa.bindparam("p_task_id"), t.c.organization_id == sa.bindparam("p_org")
)
_OWNER = sa.select(t.c.organization_id).where(t.c.id == sa.bindparam("p_task_id"))
_FINISH = (
    sa.update(t)
    .where(
        t.c.id == sa.bindparam("p_task_id"),
        t.c.attempt == sa.bindparam("p_attempt"),
        t.c.status == TaskStatus.EXECUTING,
    )
    .values(
        status=sa.bindparam("p_status"),
        result=sa.bindparam("p_result"),
        status_reason=sa.bindparam("p_reason"),
        status_message=sa.bindparam("p_message"),
        lease_owner=None,
        lease_expires_at=None,
        finished_at=sa.bindparam("p_now", type_=t.c.finished_at.type),
        event_seq=t.c.event_seq + 1,  # its event: see lifecycle.publish_task
        updated_at=sa.bindparam("p_now", type_=t.c.updated_at.type),
    )
    .returning(*t.c)
)
_ACTIVE = (TaskStatus.PENDING, TaskStatus.EXECUTING, TaskStatus.PAUSED)


async def create_task(
    conn: Connection,
    *,
    task_id: str,
    organization_id: str,
    agent_id: str,
    agent_version: int,
    input: dict[str, Any],
    request: dict[str, Any],
    max_attempts: int,
    now: datetime,
    parent_id: str | None = None,
    executor: str = "engine",
) -> TaskRecord:
    """Accept a task: one insert puts it in the store and in the queue."""
    values: dict[str, Any] = {
        "id": task_id,
        "organization_id": organization_id,
        "agent_id": agent_id,
        "agent_version": agent_version,
        "status": TaskStatus.PENDING,
        "turn": 1,
        "input": input,
        "request": request,
        "result": None,
        "status_reason": None,
        "status_message": None,
        "last_executed_node_id": None,
        "is_manually_stopped": False,
        "attempt": 0,
        "max_attempts": max_attempts,
        "attempt_base": 0,
        "event_seq": 1,  # its task_created event
        "lease_owner": None,
        "lease_expires_at": None,
        "created_at": now,
        "started_at": None,
        "finished_at": None,
        "updated_at": now,
        "parent_id": parent_id,
        "executor": executor,
        "prompt_tokens": 0,
        "completion_tokens": 0,
    }
    await conn.execute(_INSERT, values)
    return TaskRecord.from_row(values)


async def get_task(conn: Connection, *, organization_id: str, task_id: str) -> TaskRecord:
    params = {"p_task_id": task_id, "p_org": organization_id}
    row = (await conn.execute(_GET, params)).mappings().one_or_none()
    if row is None:
        raise errors.NotFound(f"task {task_id} not found")
    return TaskRecord.from_row(row)


async def version_of(conn: Connection, *, organization_id: str, task_id: str) -> int:
    """The task's event sequence: it moves with every change a client can see."""
    params = {"p_task_id": task_id, "p_org": organization_id}
    version = (await conn.execute(_VERSION, params)).scalar()
    if version is None:
        raise errors.NotFound(f"task {task_id} not found")
    return int(version)


async def owner_of(conn: Connection, *, task_id: str) -> str | None:
    """The organization that owns this task id, if any (ids are global)."""
    return (await conn.execute(_OWNER, {"p_task_id": task_id})).scalar()


async def lock_task(conn: Connection, *, task_id: str, now: datetime) -> None:
    """Take the task row's write lock until the end of the transaction."""
    await conn.execute(sa.update(t).where(t.c.id == task_id).values(updated_at=now))


async def start_turn(
    conn: Connection,
    *,
    organization_id: str,
    task_id: str,
    agent_version: int,
    input: dict[str, Any],
    request: dict[str, Any],
    now: datetime,
) -> TaskRecord | None:
    """Re-enter the queue with the next turn's input; None when the task is not finished."""
    row = (
        (
            await conn.execute(
                sa.update(t)
                .where(
                    t.c.id == task_id,
                    t.c.organization_id == organization_id,
                    t.c.status.in_(TERMINAL_STATUSES),
                )
                .values(
                    turn=t.c.turn + 1,
                    status=TaskStatus.PENDING,
                    agent_version=agent_version,
                    input=input,
                    request=request,
                    result=None,
                    status_reason=None,
                    status_message=None,
                    last_executed_node_id=None,
                    is_manually_stopped=False,
                    attempt_base=t.c.attempt,
                    lease_owner=None,
                    lease_expires_at=None,
                    started_at=None,
                    finished_at=None,
                    event_seq=t.c.event_seq + 1,  # its event: see lifecycle.publish_task
                    updated_at=now,
                )
                .returning(*t.c)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else TaskRecord.from_row(row)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFilters:
    """What task lists may be narrowed by (API.md §2.3 and the SDK's history lists). The
    request filters read the fields the Task object echoes."""

    agent_id: str | None = None
    status: TaskStatus | None = None
    user_id: str | None = None
    parent_task_id: str | None = None
    triggering_agent_id: str | None = None
    internal_status: str | None = None

    def where(self, organization_id: str) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = [t.c.organization_id == organization_id]
        if self.agent_id is not None:
            where.append(t.c.agent_id == self.agent_id)
        if self.status is not None:
            where.append(t.c.status == self.status)
        if self.user_id is not None:
            where.append(t.c.input["user"]["id"].as_string() == self.user_id)
        by_request = (
            ("parent_execution_id", self.parent_task_id),
            ("triggering_agent_id", self.triggering_agent_id),
            ("internal_status", self.internal_status),
        )
        for field, wanted in by_request:
            if wanted is not None:
                where.append(t.c.request[field].as_string() == wanted)
        return where


async def find_tasks(
    conn: Connection, *, organization_id: str, filters: TaskFilters, limit: int, offset: int = 0
) -> list[TaskRecord]:
    """Matching tasks, newest first."""
    rows = await conn.execute(
        sa.select(t)
        .where(*filters.where(organization_id))
        .order_by(t.c.created_at.desc(), t.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [TaskRecord.from_row(r) for r in rows.mappings()]


async def list_tasks(
    conn: Connection, *, organization_id: str, filters: TaskFilters, page: int, per_page: int
) -> tuple[list[TaskRecord], int]:
    """One page, newest first, and the total that matches."""
    where = filters.where(organization_id)
    total = (await conn.execute(sa.select(sa.func.count()).select_from(t).where(*where))).scalar()
    found = await find_tasks(
        conn,
        organization_id=organization_id,
        filters=filters,
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    return found, int(total or 0)


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
    ids = list((await conn.execute(_PICK[skip_locked], {"p_limit": limit})).scalars())
    if not ids:
        return []
    params = {"p_ids": ids, "p_worker": worker_id, "p_expires": now + lease_for, "p_now": now}
    rows = (await conn.execute(_CLAIM, params)).mappings().all()
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


_CHILDREN = (
    sa.select(t.c.id, t.c.status)
    .where(t.c.parent_id == sa.bindparam("p_task_id"))
    .order_by(t.c.created_at, t.c.id)
)


async def children_of(conn: Connection, *, task_id: str) -> list[tuple[str, TaskStatus]]:
    """The sub-tasks this task's agent nodes started, oldest first, with their status."""
    rows = await conn.execute(_CHILDREN, {"p_task_id": task_id})
    return [(row.id, TaskStatus(row.status)) for row in rows]


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
            t.c.executor == SDK,
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


async def add_tokens(
    conn: Connection, *, task_id: str, prompt_tokens: int, completion_tokens: int
) -> None:
    """Count usage reported from outside the engine (an SDK worker's run)."""
    await conn.execute(
        sa.update(t)
        .where(t.c.id == task_id)
        .values(
            prompt_tokens=t.c.prompt_tokens + prompt_tokens,
            completion_tokens=t.c.completion_tokens + completion_tokens,
        )
    )


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


async def finish_task(
    conn: Connection,
    *,
    task_id: str,
    attempt: int,
    status: TaskStatus,
    result: str | None,
    reason: str | None,
    message: str | None,
    now: datetime,
) -> TaskRecord:
    """Record the attempt's outcome (fenced) and return the finished task."""
    params = {
        "p_task_id": task_id,
        "p_attempt": attempt,
        "p_status": status,
        "p_result": result,
        "p_reason": reason,
        "p_message": message,
        "p_now": now,
    }
    row = (await conn.execute(_FINISH, params)).mappings().first()
    if row is None:
        raise errors.LeaseLost(task_id, attempt)
    return TaskRecord.from_row(row)


async def stop_task(
    conn: Connection, *, organization_id: str, task_id: str, now: datetime
) -> tuple[TaskRecord, bool]:
    """Stop a task that is not finished yet; a finished task is returned as it is.

    Returns the task and whether this call stopped it.
    """
    stopped = await conn.execute(
        sa.update(t)
        .where(
            t.c.id == task_id,
            t.c.organization_id == organization_id,
            t.c.status.in_(_ACTIVE),
        )
        .values(
            status=TaskStatus.STOPPED,
            is_manually_stopped=True,
            status_reason="stopped_by_user",
            status_message="stopped through the API",
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
            event_seq=t.c.event_seq + 1,  # its event: see lifecycle.publish_task
            updated_at=now,
        )
    )
    task = await get_task(conn, organization_id=organization_id, task_id=task_id)
    return task, stopped.rowcount == 1


async def delete_task(conn: Connection, *, organization_id: str, task_id: str) -> None:
    await get_task(conn, organization_id=organization_id, task_id=task_id)
    for table in (node_runs, task_events, task_turns):
        await conn.execute(sa.delete(table).where(table.c.task_id == task_id))
    await conn.execute(
        sa.delete(t).where(t.c.id == task_id, t.c.organization_id == organization_id)
    )
