"""The database handle: engines, transactions and every dialect difference (pragmas, WAL, locks)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from taskloom import errors

logger = logging.getLogger(__name__)


def async_url(url: str) -> str:
    """Map the user-facing URL (`sqlite:///x.db`, `postgresql://...`) to its async driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise errors.InvalidRequest(f"unsupported database URL {parsed.drivername!r}")


class Database:
    """Owns the engines. SQLite: one writer connection per process, pooled readers (WAL).

    PostgreSQL: one pool; row locks (`FOR UPDATE SKIP LOCKED`) do the serialising.
    """

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self._async_url = async_url(url)
        self.is_sqlite = make_url(self._async_url).get_backend_name() == "sqlite"
        self._write_lock = asyncio.Lock()
        if self.is_sqlite:
            self._prepare_sqlite_file()
            # one writer: SQLite serialises writers anyway, and BEGIN IMMEDIATE in-process
            # would only turn lock waits into busy-timeouts
            self._writer = self._sqlite_engine(immediate=True, pool_size=1)
            self._reader = self._sqlite_engine(immediate=False, pool_size=pool_size)
        else:
            engine = create_async_engine(
                self._async_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False
            )
            self._writer = engine
            self._reader = engine

    def _prepare_sqlite_file(self) -> None:
        database = make_url(self._async_url).database
        if database and database != ":memory:":
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)

    def _sqlite_engine(self, *, immediate: bool, pool_size: int) -> AsyncEngine:
        engine = create_async_engine(
            self._async_url,
            pool_size=pool_size,
            max_overflow=0,
            connect_args={"timeout": 30},
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # take transaction control away from the driver so that BEGIN is ours to issue
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: sa.Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on exit, rolled back on error."""
        if self.is_sqlite:
            async with self._write_lock, self._writer.begin() as conn:
                yield conn
        else:
            async with self._writer.begin() as conn:
                yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot."""
        async with self._reader.connect() as conn:
            yield conn

    async def close(self) -> None:
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()
