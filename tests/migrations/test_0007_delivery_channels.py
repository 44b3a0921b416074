"""Migration 0007 on both stores: deliveries queued before channels existed become webhook
deliveries with their URL as target, and the way back restores them."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from taskloom.store.database import Database
from taskloom.store.migrate import alembic_config, upgrade


async def migrate(db: Database, revision: str, *, down: bool = False) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config(db.url)
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    async with db.write() as conn:
        await conn.run_sync(run)


def before_0007(db: Database) -> str:
    """The revision 0007 follows (migrations are re-chained when branches merge)."""
    revision = ScriptDirectory.from_config(alembic_config(db.url)).get_revision("0007")
    if revision is None or not isinstance(revision.down_revision, str):
        raise LookupError("migration 0007 has no single predecessor")
    return revision.down_revision


async def columns(db: Database) -> dict[str, object]:
    async with db.read() as conn:
        row = (await conn.execute(sa.text("SELECT * FROM webhook_deliveries"))).mappings().one()
    return dict(row)


async def test_a_delivery_queued_before_0007_becomes_a_webhook_delivery_and_back(
    database_url: str,
) -> None:
    async with Database(database_url) as db:
        await upgrade(db)  # a test process's PostgreSQL database is at head already
        await migrate(db, before_0007(db), down=True)
        try:
            await _round_trip(db)
        finally:
            await upgrade(db)  # as the next test in this process expects it


async def _round_trip(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.write() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO webhook_deliveries (id, organization_id, task_id, event, url,"
                " headers, payload, status, attempts, next_attempt_at, created_at)"
                " VALUES ('msg_1', 'org', 't1', 'task.completed', 'https://hook', '{}',"
                " '{}', 'pending', 0, :now, :now)"
            ),
            {"now": now},
        )
    await upgrade(db)
    moved = await columns(db)
    assert (moved["channel"], moved["target"], moved["sealed"]) == (
        "webhook",
        "https://hook",
        None,
    )
    assert "url" not in moved

    await migrate(db, before_0007(db), down=True)
    back = await columns(db)
    async with db.write() as conn:
        await conn.execute(sa.text("DELETE FROM webhook_deliveries"))
    assert back["url"] == "https://hook"
    assert "channel" not in back
