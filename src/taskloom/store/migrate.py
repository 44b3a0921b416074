"""Schema migrations: `upgrade` brings any database to the head revision, safely in parallel."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from taskloom.store.database import Database

_MIGRATIONS = Path(__file__).parent / "migrations"
# any constant: serialises concurrent `upgrade` calls from many processes on PostgreSQL
_PG_MIGRATION_LOCK = 7_317_001


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


async def upgrade(db: Database) -> None:
    """Migrate to head. Many processes may call this at once: they take turns."""

    def _upgrade(connection: Connection) -> None:
        config = alembic_config(db.url)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with db.write() as conn:
        if not db.is_sqlite:
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        await conn.run_sync(_upgrade)
