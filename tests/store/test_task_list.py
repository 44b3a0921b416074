"""The task list query (store/tasks.py list_tasks): newest first across pages, the exact
total, one organization only, and its pages read off the index."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from taskloom.clock import utcnow
from taskloom.store import tasks as task_store
from taskloom.store.database import Database
from taskloom.store.migrate import upgrade
from taskloom.store.records import TaskStatus

T0 = utcnow()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with Database(database_url) as db:
        await upgrade(db)
        yield db


async def _add(db: Database, task_id: str, *, org: str = "org", agent: str = "wf", at: int) -> None:
    async with db.write() as conn:
        await task_store.create_task(
            conn,
            task_id=task_id,
            organization_id=org,
            agent_id=agent,
            agent_version=1,
            input={"text": task_id},
            request={},
            max_attempts=3,
            now=T0 + timedelta(seconds=at),
        )


async def _page(db: Database, page: int, per_page: int, **filters: object) -> tuple[list[str], int]:
    async with db.read() as conn:
        found, total = await task_store.list_tasks(
            conn,
            organization_id="org",
            filters=task_store.TaskFilters(**filters),  # type: ignore[arg-type]
            page=page,
            per_page=per_page,
        )
    return [task.id for task in found], total


async def test_list_tasks_pages_are_newest_first_and_ties_never_repeat(db: Database) -> None:
    # two tasks share each creation time: the id orders them, the same way on every page
    for n in range(10):
        await _add(db, f"t{n}", at=n // 2)
    pages = [await _page(db, page, 3) for page in (1, 2, 3, 4)]
    ids = [task_id for found, _ in pages for task_id in found]
    assert ids == ["t9", "t8", "t7", "t6", "t5", "t4", "t3", "t2", "t1", "t0"]
    assert {total for _, total in pages} == {10}


async def test_list_tasks_counts_only_the_organizations_matching_tasks(db: Database) -> None:
    for n in range(4):
        await _add(db, f"a{n}", agent="wf-a", at=n)
    await _add(db, "b0", agent="wf-b", at=10)
    await _add(db, "x0", org="other", agent="wf-a", at=11)
    assert await _page(db, 1, 2, agent_id="wf-a") == (["a3", "a2"], 4)
    assert await _page(db, 2, 2, agent_id="wf-a") == (["a1", "a0"], 4)
    assert await _page(db, 1, 20) == (["b0", "a3", "a2", "a1", "a0"], 5)


async def test_list_tasks_page_past_the_end_is_empty_with_the_total(db: Database) -> None:
    for n in range(3):
        await _add(db, f"t{n}", at=n)
    assert await _page(db, 5, 2) == ([], 3)


async def test_list_tasks_filters_by_status(db: Database) -> None:
    for n in range(3):
        await _add(db, f"t{n}", at=n)
    async with db.write() as conn:
        await task_store.stop_task(conn, organization_id="org", task_id="t1", now=T0)
    assert await _page(db, 1, 20, status=TaskStatus.STOPPED) == (["t1"], 1)
    assert await _page(db, 1, 20, status=TaskStatus.PENDING) == (["t2", "t0"], 2)


async def test_list_tasks_page_query_reads_the_index__sqlite(tmp_path: object) -> None:
    # the order is the index's whole key: SQLite picks the page's ids without a sort
    async with Database(f"sqlite:///{tmp_path}/plan.db") as db:
        await upgrade(db)
        async with db.read() as conn:
            plan = await conn.execute(
                sa.text(
                    "EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE organization_id = 'org' "
                    "ORDER BY created_at DESC, id DESC LIMIT 25 OFFSET 500"
                )
            )
            details = " | ".join(str(row[-1]) for row in plan)
    assert "COVERING INDEX ix_tasks_org_created_id" in details
    assert "TEMP B-TREE" not in details


async def test_list_tasks_by_status_reads_its_own_index__sqlite(tmp_path: object) -> None:
    # a status filter (the web UI's inbox: status=paused) must not walk the whole list
    async with Database(f"sqlite:///{tmp_path}/plan.db") as db:
        await upgrade(db)
        async with db.read() as conn:
            plans = [
                " | ".join(str(row[-1]) for row in await conn.execute(sa.text(query)))
                for query in (
                    "EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE organization_id = 'org' "
                    "AND status = 'paused' ORDER BY created_at DESC, id DESC LIMIT 25",
                    "EXPLAIN QUERY PLAN SELECT count(*) FROM tasks WHERE organization_id = 'org' "
                    "AND status = 'paused'",
                )
            ]
    for details in plans:
        assert "COVERING INDEX ix_tasks_org_status_created_id" in details
        assert "TEMP B-TREE" not in details
