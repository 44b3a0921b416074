"""Schema migrations: `upgrade` brings any database to the head revision, safely in parallel.

Alembic (with Mako and Pygments, ~11 MiB resident) is imported only when a migration must
actually run: a database already at the head that the migration scripts declare, the usual
case at a server's start, is checked with one read and left alone.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import Connection

from taskloom.store.database import Database

if TYPE_CHECKING:
    from alembic.config import Config

_MIGRATIONS = Path(__file__).parent / "migrations"
# any constant: serialises concurrent `upgrade` calls from many processes on PostgreSQL
_PG_MIGRATION_LOCK = 7_317_001
# a script's own revision and the one it follows, as every script in versions/ spells them
_DECLARED = re.compile(r'^(revision|down_revision)\s*=\s*(None|"[^"]*")\s*$', re.MULTILINE)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


@cache
def declared_head() -> str | None:
    """The head revision of the scripts in versions/, read from their text (importing them
    would import alembic); None when the text does not say it plainly (a branch, a merge,
    a revision spelled otherwise): then alembic is asked, as for any migration."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for script in (_MIGRATIONS / "versions").glob("*.py"):
        declared = dict(_DECLARED.findall(script.read_text(encoding="utf-8")))
        if "revision" not in declared or "down_revision" not in declared:
            return None
        if declared["revision"] == "None":
            return None
        revisions.add(declared["revision"].strip('"'))
        if declared["down_revision"] != "None":
            followed.add(declared["down_revision"].strip('"'))
    heads = revisions - followed
    return heads.pop() if len(heads) == 1 and followed <= revisions else None


async def _stored_revisions(db: Database) -> list[str]:
    """The revisions alembic recorded in this database; none before its first migration."""
    exists = (
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        if db.is_sqlite
        else "SELECT count(to_regclass('alembic_version'))"  # 0 when the name is unknown
    )
    async with db.read() as conn:
        if not (await conn.execute(sa.text(exists))).scalar():
            return []
        rows = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        return [str(row[0]) for row in rows]


async def upgrade(db: Database) -> None:
    """Migrate to head. Many processes may call this at once: they take turns."""
    head = declared_head()
    if head is not None and await _stored_revisions(db) == [head]:
        return

    def _upgrade(connection: Connection) -> None:
        from alembic import command

        config = alembic_config(db.url)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with db.write() as conn:
        if not db.is_sqlite:
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        await conn.run_sync(_upgrade)
