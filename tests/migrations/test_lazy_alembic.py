"""`upgrade` leaves a database at head alone without importing alembic, and still migrates
every other one: the head it reads from the scripts' text is alembic's own."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from taskloom.store.database import Database
from taskloom.store.migrate import alembic_config, declared_head, upgrade
from tests.migrations.test_0007_delivery_channels import migrate


def test_declared_head_is_alembics() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert [declared_head()] == heads


async def stored(db: Database) -> list[str]:
    async with db.read() as conn:
        rows = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        return [row[0] for row in rows]


async def test_a_database_behind_head_is_still_migrated(database_url: str) -> None:
    async with Database(database_url) as db:
        await upgrade(db)
        head = declared_head()
        assert await stored(db) == [head]
        script = ScriptDirectory.from_config(alembic_config(db.url)).get_revision(head)
        assert script is not None
        assert isinstance(script.down_revision, str)
        await migrate(db, script.down_revision, down=True)
        try:
            assert await stored(db) == [script.down_revision]
        finally:
            await upgrade(db)
        assert await stored(db) == [head]


def test_upgrade_at_head_does_not_import_alembic(database_url: str) -> None:
    # a fresh interpreter: this test process has imported alembic long ago
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from taskloom.store.database import Database
        from taskloom.store.migrate import upgrade

        async def main() -> None:
            async with Database({database_url!r}) as db:
                await upgrade(db)  # a fresh SQLite file: migrated, with alembic
                first = "alembic" in sys.modules
                for name in [m for m in sys.modules if m.split(".")[0] == "alembic"]:
                    del sys.modules[name]
                await upgrade(db)  # now at head
                print(first, "alembic" in sys.modules)

        asyncio.run(main())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    first, second = out.stdout.split()
    if database_url.startswith("sqlite"):
        assert first == "True"
    assert second == "False"
