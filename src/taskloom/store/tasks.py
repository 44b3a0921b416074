"""Task queries: accept, read, list, finish (fenced on the attempt), stop and delete. The queue
protocol (claims, leases, the sweep) is in `queue.py`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection, Database, HotStatement
from taskloom.store.records import TERMINAL_STATUSES, Executor, Lease, TaskRecord, TaskStatus
from taskloom.store.tables import node_runs, task_events, task_turns, tasks

t = tasks
_INSERT = HotStatement.insert(t)
_GET = HotStatement(
    sa.select(t).where(
        t.c.id == sa.bindparam("p_task_id"), t.c.organization_id == sa.bindparam("p_org")
    )
)


_VERSION = sa.select(t.c.event_seq).where(
    t.c.id == sa.bindparam("p_task_id"), t.c.organization_id == sa.bindparam("p_org")
)
_HOT_VERSION = HotStatement(_VERSION)
_OWNER = sa.select(t.c.organization_id).where(t.c.id == sa.bindparam("p_task_id"))
_FINISH = HotStatement(
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
    executor: Executor = Executor.ENGINE,
    held: Lease | None = None,
) -> TaskRecord:
    """Accept a task: one insert puts it in the store and in the queue. A `held` task is
    inserted as its worker's claim would leave it (executing, leased, attempt 1, started): the
    worker runs it at once, and its `task_created` and `task_updated` events are both due."""
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
        "unreported_calls": 0,
        "paused_at": None,
        "hitl_request": None,
    }
    if held is not None:
        values |= {
            "status": TaskStatus.EXECUTING,
            "attempt": 1,
            "event_seq": 2,  # and its task_updated
            "lease_owner": held.owner,
            "lease_expires_at": held.expires_at,
            "started_at": now,
        }
    await conn.run(_INSERT, values)
    return TaskRecord.from_row(values)


async def get_task(conn: Connection, *, organization_id: str, task_id: str) -> TaskRecord:
    params = {"p_task_id": task_id, "p_org": organization_id}
    rows = await conn.fetch(_GET, params)
    if not rows:
        raise errors.NotFound(f"task {task_id} not found")
    return TaskRecord.from_row(rows[0])


async def task_by_id(conn: Connection, *, task_id: str) -> TaskRecord | None:
    """A task whatever its organization: only for a caller whose credential is not an API
    key but a capability bound to the task (an approval link)."""
    row = (await conn.execute(sa.select(t).where(t.c.id == task_id))).mappings().first()
    return None if row is None else TaskRecord.from_row(row)


async def version_of(conn: Connection, *, organization_id: str, task_id: str) -> int:
    """The task's event sequence: it moves with every change a client can see."""
    params = {"p_task_id": task_id, "p_org": organization_id}
    version = (await conn.execute(_VERSION, params)).scalar()
    if version is None:
        raise errors.NotFound(f"task {task_id} not found")
    return int(version)


async def current_version(db: Database, *, organization_id: str, task_id: str) -> int | None:
    """`version_of` outside any transaction, on the driver's connection: what a poll asks."""
    version = await db.read_value(_HOT_VERSION, {"p_task_id": task_id, "p_org": organization_id})
    return None if version is None else int(version)


async def owner_of(conn: Connection, *, task_id: str) -> str | None:
    """The organization that owns this task id, if any (ids are global)."""
    return (await conn.execute(_OWNER, {"p_task_id": task_id})).scalar()


async def count_started_since(
    conn: Connection, *, organization_id: str, agent_id: str, since: datetime
) -> int:
    """New tasks of a workflow or agent since `since`."""
    counted = await conn.execute(
        sa.select(sa.func.count()).where(
            t.c.organization_id == organization_id,
            t.c.created_at >= since,
            t.c.agent_id == agent_id,
        )
    )
    return int(counted.scalar_one())


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
    held: Lease | None = None,
) -> TaskRecord | None:
    """Re-enter the queue with the next turn's input; None when the task is not finished.
    A `held` turn starts as its worker's claim would leave it (see `create_task`)."""
    claim: dict[str, Any] = {}
    if held is not None:
        claim = {
            "status": TaskStatus.EXECUTING,
            "attempt": t.c.attempt + 1,
            "lease_owner": held.owner,
            "lease_expires_at": held.expires_at,
            "started_at": now,
            "event_seq": t.c.event_seq + 2,  # its task_created and task_updated
        }
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
                    paused_at=None,
                    hitl_request=None,
                    event_seq=t.c.event_seq + 1,  # its event: see lifecycle.publish_task
                    updated_at=now,
                )
                .values(claim)
                .returning(*t.c)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else TaskRecord.from_row(row)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFilters:
    """What task lists may be narrowed by (docs/api.md and the SDK's history lists). The
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


# newest first; the id breaks ties in the same direction, so that the whole order is the key
# of ix_tasks_org_created_id (and ix_tasks_org_agent_created_id): no sort, no row reads to skip
_NEWEST_FIRST = (t.c.created_at.desc(), t.c.id.desc())


async def find_tasks(
    conn: Connection, *, organization_id: str, filters: TaskFilters, limit: int, offset: int = 0
) -> list[TaskRecord]:
    """Matching tasks, newest first.

    The page's ids are picked first, off the index where the filters allow, and only those
    rows are read: an offset deep into the list skips index entries, not whole rows.
    """
    page = (
        sa.select(t.c.id)
        .where(*filters.where(organization_id))
        .order_by(*_NEWEST_FIRST)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    rows = await conn.execute(sa.select(t).join(page, t.c.id == page.c.id).order_by(*_NEWEST_FIRST))
    return [TaskRecord.from_row(r) for r in rows.mappings()]


async def list_tasks(
    conn: Connection, *, organization_id: str, filters: TaskFilters, page: int, per_page: int
) -> tuple[list[TaskRecord], int]:
    """One page, newest first, and the total that matches (the contract's envelope has it).

    The count reads the same index as the page. A first page that is not full is the whole
    list: its length is the total, with no count at all.
    """
    found = await find_tasks(
        conn,
        organization_id=organization_id,
        filters=filters,
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    if page == 1 and len(found) < per_page:
        return found, len(found)
    where = filters.where(organization_id)
    total = (await conn.execute(sa.select(sa.func.count()).select_from(t).where(*where))).scalar()
    return found, int(total or 0)


_CHILDREN = (
    sa.select(t.c.id, t.c.status)
    .where(t.c.parent_id == sa.bindparam("p_task_id"))
    .order_by(t.c.created_at, t.c.id)
)


async def children_of(conn: Connection, *, task_id: str) -> list[tuple[str, TaskStatus]]:
    """The sub-tasks this task's agent nodes started, oldest first, with their status."""
    rows = await conn.execute(_CHILDREN, {"p_task_id": task_id})
    return [(row.id, TaskStatus(row.status)) for row in rows]


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
    rows = await conn.fetch(_FINISH, params)
    if not rows:
        raise errors.LeaseLost(task_id, attempt)
    return TaskRecord.from_row(rows[0])


async def pause_task(
    conn: Connection,
    *,
    task_id: str,
    attempt: int,
    hitl_request: dict[str, Any],
    now: datetime,
) -> TaskRecord:
    """Park the attempt's task (fenced): `paused`, no lease, nothing runs until a resume."""
    row = (
        (
            await conn.execute(
                sa.update(t)
                .where(
                    t.c.id == task_id,
                    t.c.attempt == attempt,
                    t.c.status == TaskStatus.EXECUTING,
                )
                .values(
                    status=TaskStatus.PAUSED,
                    paused_at=now,
                    hitl_request=hitl_request,
                    lease_owner=None,
                    lease_expires_at=None,
                    event_seq=t.c.event_seq + 1,  # its event: see lifecycle.publish_task
                    updated_at=now,
                )
                .returning(*t.c)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise errors.LeaseLost(task_id, attempt)
    return TaskRecord.from_row(row)


async def resume_task(conn: Connection, *, task_id: str, now: datetime) -> TaskRecord | None:
    """Put a paused task back in the queue; None when it is not paused (stopped meanwhile).
    Its attempts count afresh: a person's decision is not a worker lost."""
    row = (
        (
            await conn.execute(
                sa.update(t)
                .where(t.c.id == task_id, t.c.status == TaskStatus.PAUSED)
                .values(
                    status=TaskStatus.PENDING,
                    hitl_request=None,
                    attempt_base=t.c.attempt,
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
