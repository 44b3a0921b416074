"""Prebuilt statements on the driver's connection (`HotStatement`, `Connection.fetch` / `run`,
`Database.hot_read`): the same values in and out as through SQLAlchemy, inside the caller's
transaction, and a consistent snapshot for the reads of a poll."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from taskloom import errors
from taskloom.store import events as event_store
from taskloom.store import tasks as task_store
from taskloom.store.database import Database, HotStatement
from taskloom.store.migrate import upgrade
from taskloom.store.records import TaskStatus
from taskloom.store.tables import tasks

T0 = datetime(2026, 12, 5, 21, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with Database(database_url) as db:
        await upgrade(db)
        yield db


async def _add(db: Database, task_id: str, *, at: datetime = T0) -> None:
    async with db.write() as conn:
        await task_store.create_task(
            conn,
            task_id=task_id,
            organization_id="org",
            agent_id="wf",
            agent_version=1,
            input={"text": "héllo", "nested": [1, None, {"a": True}]},
            request={"title": "t"},
            max_attempts=3,
            now=at,
        )


async def test_a_row_written_hot_reads_back_the_same_through_sqlalchemy(db: Database) -> None:
    await _add(db, "t-1")

    async with db.read() as conn:
        core = (await conn.execute(sa.select(tasks).where(tasks.c.id == "t-1"))).mappings().one()
        hot = await task_store.get_task(conn, organization_id="org", task_id="t-1")
    async with db.hot_read() as conn:
        polled = await task_store.get_task(conn, organization_id="org", task_id="t-1")

    assert dict(core) == {name: getattr(hot, name) for name in core}
    assert polled == hot
    assert hot.input == {"text": "héllo", "nested": [1, None, {"a": True}]}
    assert hot.created_at == T0
    assert hot.created_at.tzinfo is not None
    assert hot.started_at is None


async def test_values_compiled_into_a_statement_are_bound_with_it(db: Database) -> None:
    await _add(db, "t-1")
    executing = HotStatement(
        sa.select(tasks.c.id).where(
            tasks.c.status == TaskStatus.EXECUTING, tasks.c.id == sa.bindparam("p_id")
        )
    )
    pending = HotStatement(
        sa.select(tasks.c.id).where(
            tasks.c.status == TaskStatus.PENDING, tasks.c.id == sa.bindparam("p_id")
        )
    )

    async with db.read() as conn:
        assert await conn.fetch(executing, {"p_id": "t-1"}) == []
        assert await conn.fetch(pending, {"p_id": "t-1"}) == [{"id": "t-1"}]


async def test_a_hot_write_is_part_of_the_callers_transaction(db: Database) -> None:
    await _add(db, "t-1")

    seen_inside: list[int] = []

    async def abandoned() -> None:
        async with db.write() as conn:
            await event_store.append_events(
                conn, task_id="t-1", events=[("note", {"n": 1}, T0), ("note", {"n": 2}, T0)]
            )
            task = await task_store.get_task(conn, organization_id="org", task_id="t-1")
            seen_inside.append(task.event_seq)
            raise RuntimeError("abandon the transaction")

    with pytest.raises(RuntimeError):
        await abandoned()

    assert seen_inside == [3]
    async with db.read() as conn:
        task = await task_store.get_task(conn, organization_id="org", task_id="t-1")
        assert task.event_seq == 1
        assert await event_store.events_after(conn, task_id="t-1", after_seq=0) == []


async def test_a_hot_read_is_one_snapshot(db: Database) -> None:
    await _add(db, "t-1")

    async with db.hot_read() as conn:
        before = await task_store.get_task(conn, organization_id="org", task_id="t-1")
        await _add(db, "t-2", at=T0 + timedelta(seconds=1))
        async with db.write() as writer:
            await event_store.append_events(
                writer, task_id="t-1", events=[("note", {}, T0 + timedelta(seconds=1))]
            )
        again = await task_store.get_task(conn, organization_id="org", task_id="t-1")
        with pytest.raises(errors.NotFound):
            await task_store.get_task(conn, organization_id="org", task_id="t-2")

    assert again == before
    async with db.hot_read() as conn:
        after = await task_store.get_task(conn, organization_id="org", task_id="t-1")
    assert after.event_seq == before.event_seq + 1


async def test_a_duplicate_written_hot_is_a_conflict(db: Database) -> None:
    await _add(db, "t-1")

    with pytest.raises(errors.AlreadyExists):
        await _add(db, "t-1")
