"""A server's start imports nothing it may never use: each module below is resident memory
(alembic with Mako and Pygments ~11 MiB; the OpenTelemetry SDK; numpy ~13 MiB, which the
sqlite_vec package imports; SQLAlchemy's asyncio layer and ORM ~7 MiB, for PostgreSQL only)
that most servers never need.
Checked in a fresh interpreter, since this test process has imported them all long ago."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# what a server started on a migrated SQLite database, tracing off, must not have imported
NOT_AT_STARTUP = (
    "alembic",
    "opentelemetry.sdk",
    "numpy",
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.orm",
)


@pytest.fixture(scope="module")
def imported_at_startup(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('startup') / 'taskloom.db'}"
    script = textwrap.dedent(
        f"""
        import asyncio, json, sys
        from taskloom.api.app import create_app
        from taskloom.config import Settings
        from taskloom.store.database import Database
        from taskloom.store.migrate import upgrade

        async def main() -> None:
            async with Database({url!r}) as db:
                await upgrade(db)  # what `taskloom migrate` did before this server started
            for name in [m for m in sys.modules if m.split(".")[0] == "alembic"]:
                del sys.modules[name]
            app = create_app(Settings(database_url={url!r}, sandbox_pool_size=1))
            async with app.router.lifespan_context(app):
                print(json.dumps(sorted(sys.modules)))

        asyncio.run(main())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=100,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", NOT_AT_STARTUP)
def test_startup_does_not_import(imported_at_startup: set[str], module: str) -> None:
    assert "taskloom.engine.host" in imported_at_startup  # the server did start
    assert module not in imported_at_startup
