"""Driver errors become taskloom's by what they mean, at the one place the driver is called:
a duplicate is a conflict, a dangling reference is a missing resource, an unreachable
database is worth a retry, and anything else the database refuses is a bug."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from taskloom import errors
from taskloom.clock import utcnow
from taskloom.store import keys as key_store
from taskloom.store import tasks as task_store
from taskloom.store.database import Database
from taskloom.store.migrate import upgrade


async def _task(db: Database, *, organization_id: str, workflow_id: str) -> None:
    async with db.write() as conn:
        await task_store.create_task(
            conn,
            task_id="t-1",
            organization_id=organization_id,
            agent_id=workflow_id,
            agent_version=1,
            input={},
            request={},
            max_attempts=3,
            now=utcnow(),
        )


@pytest.fixture
async def db(database_url: str) -> Database:
    async with Database(database_url) as db:
        await upgrade(db)
        yield db


async def test_a_duplicate_row_is_a_conflict(db: Database) -> None:
    async with db.write() as conn:
        org = await key_store.ensure_organization(conn, name="acme", now=utcnow())
    await _task(db, organization_id=org, workflow_id="w")

    with pytest.raises(errors.AlreadyExists):
        await _task(db, organization_id=org, workflow_id="w")


async def test_a_reference_to_a_missing_row_is_not_found_not_a_conflict(db: Database) -> None:
    with pytest.raises(errors.ReferenceMissing) as caught:
        async with db.write() as conn:
            await key_store.create_api_key(conn, organization_id="no-such-org", now=utcnow())

    assert isinstance(caught.value, errors.NotFound)
    assert not isinstance(caught.value, errors.Conflict)


async def test_a_statement_the_database_refuses_is_a_bug_not_an_outage(db: Database) -> None:
    with pytest.raises(errors.StoreBug) as caught:
        async with db.read() as conn:
            await conn.execute(sa.text("SELECT no_such_column FROM tasks"))

    assert not isinstance(caught.value, errors.StoreUnavailable)
    assert caught.value.statement == "SELECT no_such_column FROM tasks"


async def test_an_unreachable_database_is_unavailable(database_url: str) -> None:
    # a port nothing listens on (PostgreSQL), a directory that cannot be a file (SQLite)
    url = (
        "postgresql://postgres@127.0.0.1:1/test"
        if database_url.startswith("postgresql")
        else "sqlite:////proc/taskloom.db"
    )
    async with Database(url) as db:
        with pytest.raises(errors.StoreUnavailable):
            async with db.read() as conn:
                await conn.execute(sa.text("SELECT 1 FROM tasks"))
