"""Migration 0015 on both stores: tasks and node runs gain `unreported_calls`, and lose it on
the way back down."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from taskloom.store.database import Database
from taskloom.store.migrate import alembic_config, upgrade
from tests.migrations.test_0007_delivery_channels import migrate


def before_0015(db: Database) -> str:
    """The revision 0015 follows (migrations are re-chained when branches merge)."""
    revision = ScriptDirectory.from_config(alembic_config(db.url)).get_revision("0015")
    if revision is None or not isinstance(revision.down_revision, str):
        raise LookupError("migration 0015 has no single predecessor")
    return revision.down_revision


async def usage_columns(db: Database) -> dict[str, bool]:
    def read(connection: sa.Connection) -> dict[str, bool]:
        inspector = sa.inspect(connection)
        return {
            table: "unreported_calls" in {c["name"] for c in inspector.get_columns(table)}
            for table in ("tasks", "node_runs")
        }

    async with db.read() as conn:
        return await conn.run_sync(read)


async def test_unreported_calls_columns_come_and_go(database_url: str) -> None:
    async with Database(database_url) as db:
        await upgrade(db)
        assert await usage_columns(db) == {"tasks": True, "node_runs": True}
        await migrate(db, before_0015(db), down=True)
        try:
            assert await usage_columns(db) == {"tasks": False, "node_runs": False}
        finally:
            await upgrade(db)  # as the next test in this process expects it
        assert await usage_columns(db) == {"tasks": True, "node_runs": True}
