"""The database handle: connections, transactions and every dialect difference.

SQLite runs on the event loop thread through sqlean.py, the stdlib driver's code built with a
current SQLite that may load extensions (many Pythons' own `sqlite3`, pyenv's and macOS's among
them, cannot): every connection loads sqlite-vec, the vector search of knowledge bases. Its
statements take tens of microseconds, while a hop to a driver thread (aiosqlite) costs more
than the statement itself. The only wait that could block the loop, taking the write lock
while another process holds it, is done with a zero busy-timeout and retried with an async
back-off instead.

PostgreSQL runs on asyncpg through SQLAlchemy's async engine; row locks
(`FOR UPDATE SKIP LOCKED`) serialise workers there.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3  # the types only: the driver is sqlean (same API)
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncpg
import sqlalchemy as sa
import sqlean
import sqlite_vec
from sqlalchemy import event
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.sql.base import Executable

from taskloom import errors

logger = logging.getLogger(__name__)

T = TypeVar("T")

_WRITE_LOCK_BACKOFF_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)


def driver_url(url: str) -> tuple[str, str]:
    """The dialect and SQLAlchemy URL for a user-facing URL (`sqlite:///x.db`, `postgresql://`)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return "sqlite", str(parsed.set(drivername="sqlite+pysqlite"))
    if backend in ("postgresql", "postgres"):
        async_url = parsed.set(drivername="postgresql+asyncpg")
        return "postgresql", async_url.render_as_string(hide_password=False)
    raise errors.InvalidRequest(f"unsupported database URL scheme {parsed.drivername!r}")


class Connection:
    """What query functions get: `execute` a Core statement inside the caller's transaction."""

    async def execute(
        self,
        statement: Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> CursorResult[Any]:
        """Run a statement (a list of `params` runs it once per entry). Hot paths pass a
        prebuilt statement and its `params`: building and cache-keying a new expression per
        call costs more than SQLite running it."""
        raise NotImplementedError

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T:
        raise NotImplementedError


class _SqliteConnection(Connection):
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    async def execute(
        self,
        statement: Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> CursorResult[Any]:
        return self._conn.execute(statement, params)

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T:
        return fn(self._conn)


class _AsyncConnection(Connection):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def execute(
        self,
        statement: Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> CursorResult[Any]:
        return await self._conn.execute(statement, params)

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T:
        return await self._conn.run_sync(fn)


class Database:
    """Owns the connections. Open with `async with`; write with `db.write()`, read with
    `db.read()`; each is one transaction."""

    def __init__(self, url: str, *, pool_size: int = 10, pool_timeout_s: float = 60.0) -> None:
        self.url = url
        self.dialect, self._driver_url = driver_url(url)
        self.is_sqlite = self.dialect == "sqlite"
        self._write_lock = asyncio.Lock()
        if self.is_sqlite:
            self._prepare_sqlite_file()
            self._sqlite = sa.create_engine(
                self._driver_url,
                poolclass=QueuePool,
                pool_size=pool_size,
                max_overflow=pool_size,
                connect_args={"check_same_thread": False, "isolation_level": None},
                module=sqlean,
            )
            event.listen(self._sqlite, "connect", _configure_sqlite)
            self._sqlite_writer: sa.Connection | None = None
            self._group: _CommitGroup | None = None
            self._commits: set[asyncio.Future[None]] = set()
            self._sqlite_hot: PoolProxiedConnection | None = None
        else:
            self._pg = create_async_engine(
                self._driver_url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_timeout=pool_timeout_s,
            )
            self._pg_hot: asyncpg.Pool | None = None
            self._pg_hot_lock = asyncio.Lock()
            self._hot_pool_size = max(1, pool_size // 2)

    def _prepare_sqlite_file(self) -> None:
        database = make_url(self._driver_url).database
        if database and database != ":memory:":
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Connection]:
        """A write transaction: committed on exit (the caller resumes only once it is
        durable), rolled back on error."""
        with _driver_errors():
            async with self._transaction() as conn:
                yield conn

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        if not self.is_sqlite:
            async with self._pg.begin() as pg_conn:
                yield _AsyncConnection(pg_conn)
            return
        async with self._write_lock:
            writer, raw = self._writer()
            group = self._group
            if group is None:
                await self._begin_immediate(raw)
                group = self._group = _CommitGroup()
            raw.execute("SAVEPOINT write")
            try:
                yield _SqliteConnection(writer)
            except BaseException:
                raw.execute("ROLLBACK TO write")
                raw.execute("RELEASE write")
                raise
            else:
                raw.execute("RELEASE write")
            finally:
                # its own task: a failed or cancelled writer must still see the group committed
                commit = asyncio.ensure_future(self._commit(group, raw))
                self._commits.add(commit)
                commit.add_done_callback(self._commits.discard)
        await asyncio.shield(commit)

    async def _commit(self, group: _CommitGroup, raw: sqlite3.Connection) -> None:
        """Group commit: writers that queued while this one ran joined its transaction (each
        in a savepoint); the first of them back at the lock commits for all."""
        if not group.done.done():
            async with self._write_lock:
                if self._group is group:
                    self._group = None
                    try:
                        raw.execute("COMMIT")
                    except Exception as exc:
                        if raw.in_transaction:
                            raw.execute("ROLLBACK")
                        group.done.set_exception(exc)
                    else:
                        group.done.set_result(None)
        await group.done

    def _writer(self) -> tuple[sa.Connection, sqlite3.Connection]:
        """The writer connection, and its driver connection for transaction control (BEGIN,
        SAVEPOINT, COMMIT go straight to the driver: SQLAlchemy is in AUTOCOMMIT mode there,
        tracks no transaction, and its text execution costs more than the statements)."""
        if self._sqlite_writer is None or self._sqlite_writer.closed:
            self._sqlite_writer = self._sqlite.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
            self._sqlite_writer.exec_driver_sql("PRAGMA busy_timeout=0")
        raw = cast(sqlite3.Connection, self._sqlite_writer.connection.dbapi_connection)
        return self._sqlite_writer, raw

    async def _begin_immediate(self, raw: sqlite3.Connection) -> None:
        """Take SQLite's write lock without blocking the loop while another process has it."""
        attempt = 0
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlean.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
            delay = _WRITE_LOCK_BACKOFF_S[min(attempt, len(_WRITE_LOCK_BACKOFF_S) - 1)]
            attempt += 1
            await asyncio.sleep(delay)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        """A consistent read-only snapshot."""
        with _driver_errors():
            async with self._snapshot() as conn:
                yield conn

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[Connection]:
        if not self.is_sqlite:
            async with self._pg.connect() as pg_conn:
                yield _AsyncConnection(pg_conn)
            return
        with self._sqlite.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None  # a checked-out connection always has one
            raw.execute("BEGIN")
            try:
                yield _SqliteConnection(conn)
            finally:
                raw.execute("COMMIT")

    async def read_value(self, statement: HotStatement, params: Mapping[str, Any]) -> Any:
        """The first column of the first row of a prebuilt read, or None, on the driver's own
        connection: for the hottest reads (a poll asks one indexed row), where SQLAlchemy's
        execution machinery costs several times the statement. Same freshness as `read()`: it
        sees exactly what has committed."""
        sql, order = statement.compiled(self.dialect)
        args = [params[name] for name in order]
        with _driver_errors():
            if self.is_sqlite:
                # fetchall: a statement left unfinished would hold its read snapshot open
                rows = self._hot_reader().execute(sql, args).fetchall()
                return rows[0][0] if rows else None
            pool = self._pg_hot or await self._open_pg_hot()
            return await pool.fetchval(sql, *args)

    async def _open_pg_hot(self) -> asyncpg.Pool:
        """A few connections of asyncpg's own pool for `read_value`: its checkout is a
        fraction of SQLAlchemy's, and the main pool's overflow is not opened and closed
        under a burst of polls."""
        async with self._pg_hot_lock:
            if self._pg_hot is None:
                self._pg_hot = await asyncpg.create_pool(
                    _asyncpg_dsn(self._driver_url),
                    min_size=1,
                    max_size=self._hot_pool_size,
                    reset=_keep_session,
                )
        return self._pg_hot

    def _hot_reader(self) -> sqlite3.Connection:
        """One autocommit reader kept open: each statement reads the latest commit (WAL)."""
        if self._sqlite_hot is None:
            self._sqlite_hot = self._sqlite.raw_connection()
        return cast(sqlite3.Connection, self._sqlite_hot.dbapi_connection)

    @asynccontextmanager
    async def listen(
        self,
        channel: str,
        on_payload: Callable[[str], None],
        *,
        on_lost: Callable[[], None] | None = None,
    ) -> AsyncIterator[None]:
        """PostgreSQL only: call `on_payload` for every NOTIFY on `channel` while open, and
        `on_lost` if the listening connection dies meanwhile."""
        if self.is_sqlite:
            raise errors.InvalidRequest("LISTEN needs PostgreSQL")
        with _driver_errors():
            conn = await asyncpg.connect(_asyncpg_dsn(self._driver_url))

        def deliver(_conn: object, _pid: int, _channel: str, payload: str) -> None:
            on_payload(payload)

        if on_lost is not None:
            conn.add_termination_listener(lambda _conn: on_lost())
        try:
            await conn.add_listener(channel, deliver)
            yield
        finally:
            if not conn.is_closed():
                await conn.close()

    async def notify(self, channel: str, payloads: list[str]) -> None:
        """PostgreSQL only: send several NOTIFYs in one round trip."""
        async with self._pg.connect() as conn:
            await conn.execute(
                sa.text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) p"),
                {"channel": channel, "payloads": payloads},
            )
            await conn.commit()

    async def close(self) -> None:
        if self.is_sqlite:
            await asyncio.gather(*self._commits, return_exceptions=True)
            if self._sqlite_writer is not None:
                self._sqlite_writer.close()
            if self._sqlite_hot is not None:
                self._sqlite_hot.close()
            self._sqlite.dispose()
        else:
            if self._pg_hot is not None:
                await self._pg_hot.close()
            await self._pg.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()


@contextmanager
def _driver_errors() -> Iterator[None]:
    """The one place driver errors become taskloom's, by what they mean for the caller:
    a duplicate (409) or a dangling reference (404) is the request's; a lost connection, a
    full pool or a lock timeout is nobody's and worth a retry (503); anything else the
    database refused (syntax, types, overflow, other constraints) is a bug in taskloom, and
    retrying would only repeat it. What is not a driver error passes untouched."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        # the driver's text names tables and constraints: not for callers' eyes
        kind = _constraint_kind(exc)
        if kind == "unique":
            raise errors.AlreadyExists(
                "a concurrent request stored a conflicting change; retry the request"
            ) from exc
        if kind == "foreign_key":
            raise errors.ReferenceMissing(
                "something this request refers to no longer exists"
            ) from exc
        raise _bug(exc) from exc
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        if getattr(exc.orig, "sqlite_errorname", None) == "SQLITE_ERROR":
            # SQLite reports a statement it cannot compile (no such column) as operational
            raise _bug(exc) from exc
        raise errors.StoreUnavailable("the database is unavailable; retry later") from exc
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise errors.StoreUnavailable("the database is unavailable; retry later") from exc
        raise _bug(exc) from exc
    # pool exhausted; connection refused; SQLite's own transaction control (BEGIN, COMMIT)
    except (
        sa.exc.TimeoutError,
        OSError,
        sqlean.OperationalError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
    ) as exc:
        raise errors.StoreUnavailable("the database is unavailable; retry later") from exc


# SQLSTATE classes (PostgreSQL) and extended result names (SQLite) of integrity errors
_UNIQUE = {"23505", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}
_FOREIGN_KEY = {"23503", "SQLITE_CONSTRAINT_FOREIGNKEY"}


def _constraint_kind(exc: sa.exc.IntegrityError) -> str:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    if code in _UNIQUE:
        return "unique"
    if code in _FOREIGN_KEY:
        return "foreign_key"
    if code == "SQLITE_CONSTRAINT":
        # sqlean does not turn on SQLite's extended result codes, which name the constraint;
        # the message does, in words SQLite has kept for years
        message = str(orig)
        if message.startswith("UNIQUE constraint failed"):
            return "unique"
        if message.startswith("FOREIGN KEY constraint failed"):
            return "foreign_key"
    return "other"


def _bug(exc: sa.exc.StatementError) -> errors.StoreBug:
    statement = " ".join((exc.statement or "").split())[:200] or None
    logger.error(
        "the database refused a statement",
        exc_info=exc,
        extra={"event": "store_bug", "statement": statement},
    )
    return errors.StoreBug(
        f"the database refused a statement ({type(exc.orig or exc).__name__})",
        statement=statement,
    )


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """asyncpg resets a connection's session (one more round trip) when it goes back to its
    pool; `read_value` runs single reads that leave nothing behind to reset."""


class HotStatement:
    """A Core statement compiled once per dialect to the driver's own SQL and parameter
    order (`Database.read_value`)."""

    def __init__(self, statement: sa.ClauseElement) -> None:
        self._statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...]]] = {}

    def compiled(self, dialect: str) -> tuple[str, tuple[str, ...]]:
        known = self._compiled.get(dialect)
        if known is None:
            known = self._compiled[dialect] = _compile(self._statement, dialect)
        return known


def _compile(statement: sa.ClauseElement, dialect: str) -> tuple[str, tuple[str, ...]]:
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

        compiled = statement.compile(dialect=SQLiteDialect_pysqlite(paramstyle="qmark"))
    else:
        from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

        compiled = statement.compile(dialect=PGDialect_asyncpg())  # type: ignore[no-untyped-call]
    order = cast(sa.sql.compiler.SQLCompiler, compiled).positiontup
    return compiled.string, tuple(order or ())


class _CommitGroup:
    """Writers sharing one SQLite transaction; `done` resolves when it is committed."""

    def __init__(self) -> None:
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # readers rarely wait (only on WAL recovery); writers take the lock in _begin_immediate
    cursor.execute("PRAGMA busy_timeout=1000")
    cursor.close()
    dbapi_connection.enable_load_extension(True)
    try:
        sqlite_vec.load(dbapi_connection)
    finally:
        dbapi_connection.enable_load_extension(False)


def _asyncpg_dsn(driver_url: str) -> str:
    return make_url(driver_url).set(drivername="postgresql").render_as_string(hide_password=False)
