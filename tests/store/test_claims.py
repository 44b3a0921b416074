"""Claiming pending tasks (`queue.claim_tasks`): the oldest engine tasks still pending, at most
`limit`, leased to the claimer with their attempt counted, on both stores (SQLite picks and
leases in one prebuilt statement, PostgreSQL in two with SKIP LOCKED)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from taskloom.store import queue
from taskloom.store import tasks as task_store
from taskloom.store.database import Database
from taskloom.store.migrate import upgrade
from taskloom.store.records import Executor, TaskStatus

T0 = datetime(2026, 12, 6, 1, 0, 0, tzinfo=UTC)
LEASE = timedelta(seconds=15)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with Database(database_url) as db:
        await upgrade(db)
        yield db


async def _add(db: Database, task_id: str, minute: int, executor: Executor) -> None:
    async with db.write() as conn:
        await task_store.create_task(
            conn,
            task_id=task_id,
            organization_id="org",
            agent_id="wf",
            agent_version=1,
            input={"text": task_id},
            request={},
            max_attempts=3,
            now=T0 + timedelta(minutes=minute),
            executor=executor,
        )


async def _claim(db: Database, worker: str, limit: int, now: datetime) -> list[str]:
    async with db.write() as conn:
        claimed = await queue.claim_tasks(
            conn,
            worker_id=worker,
            limit=limit,
            now=now,
            lease_for=LEASE,
            skip_locked=not db.is_sqlite,
        )
    for task in claimed:
        assert (task.status, task.lease_owner, task.attempt) == (TaskStatus.EXECUTING, worker, 1)
        assert task.lease_expires_at == now + LEASE
        assert task.started_at == now
    return [task.id for task in claimed]


async def test_a_claim_leases_the_oldest_pending_engine_tasks_up_to_its_limit(
    db: Database,
) -> None:
    # inserted out of order: the claim goes by creation time
    for task_id, minute in (("c", 3), ("a", 1), ("e", 5), ("b", 2), ("d", 4)):
        await _add(db, task_id, minute, Executor.ENGINE)
    await _add(db, "sdk", 0, Executor.SDK)  # an SDK worker's, never the engine's
    now = T0 + timedelta(hours=1)

    assert await _claim(db, "w1", 3, now) == ["a", "b", "c"]
    assert await _claim(db, "w2", 5, now) == ["d", "e"]  # claimed ones are not pending
    assert await _claim(db, "w2", 5, now) == []
    async with db.read() as conn:
        sdk = await task_store.get_task(conn, organization_id="org", task_id="sdk")
    assert sdk.status == TaskStatus.PENDING
