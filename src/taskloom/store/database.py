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
import importlib.util
import json
import logging
import sqlite3  # the types only: the driver is sqlean (same API)
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import asyncpg
import sqlalchemy as sa
import sqlean
from sqlalchemy import event
from sqlalchemy.engine import CursorResult, Dialect, make_url
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.sql.base import Executable

from taskloom import errors
from taskloom.store.wal import BACKSTOP_PAGES, WalCheckpointer

if TYPE_CHECKING:
    # SQLAlchemy's asyncio layer (and the ORM it pulls in, ~7 MiB) only for PostgreSQL
    from sqlalchemy.ext.asyncio import AsyncConnection

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

    async def fetch(self, statement: HotStatement, params: Mapping[str, Any]) -> list[Row]:
        """The rows of a prebuilt statement (a select, or a write with RETURNING), as
        mappings of column name to value, converted as `execute` would convert them."""
        raise NotImplementedError

    async def run(
        self, statement: HotStatement, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> None:
        """Run a prebuilt write (a list of `params` runs it once per entry)."""
        raise NotImplementedError


class _SqliteConnection(Connection):
    """On SQLite, hot statements run on the same driver connection as `execute`, so both
    share the transaction."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        raw = conn.connection.dbapi_connection
        assert raw is not None  # a checked-out connection always has one
        self._hot = _SqliteHot(cast(sqlite3.Connection, raw), conn.dialect)

    async def execute(
        self,
        statement: Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> CursorResult[Any]:
        return self._conn.execute(statement, params)

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T:
        return fn(self._conn)

    async def fetch(self, statement: HotStatement, params: Mapping[str, Any]) -> list[Row]:
        return self._hot.fetch(statement, params)

    async def run(
        self, statement: HotStatement, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> None:
        self._hot.run(statement, params)


class _SqliteHot:
    """Prebuilt statements on a SQLite driver connection: the SQL and the type conversions
    SQLAlchemy would apply are worked out once per statement (`HotStatement`), and each
    call is the driver's own `execute`, which costs a fraction of SQLAlchemy's."""

    def __init__(self, raw: sqlite3.Connection, dialect: Dialect) -> None:
        self._raw = raw
        self._dialect = dialect

    def fetch(self, statement: HotStatement, params: Mapping[str, Any]) -> list[Row]:
        compiled = statement.compiled(self._dialect)
        args = compiled.args(params)
        with _raw_sqlite_errors(compiled.sql, args):
            # fetchall: a statement left unfinished would hold its read snapshot open
            rows = self._raw.execute(compiled.sql, args).fetchall()
        return compiled.rows(rows)

    def run(
        self, statement: HotStatement, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> None:
        compiled = statement.compiled(self._dialect)
        if isinstance(params, Mapping):
            args = compiled.args(params)
            with _raw_sqlite_errors(compiled.sql, args):
                self._raw.execute(compiled.sql, args)
            return
        many = [compiled.args(one) for one in params]
        with _raw_sqlite_errors(compiled.sql, many):
            self._raw.executemany(compiled.sql, many)


class _AsyncConnection(Connection):
    """On PostgreSQL, hot statements run on the asyncpg connection under SQLAlchemy's, in
    its transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._hot: _PgHot | None = None

    async def execute(
        self,
        statement: Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> CursorResult[Any]:
        return await self._conn.execute(statement, params)

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T:
        return await self._conn.run_sync(fn)

    async def fetch(self, statement: HotStatement, params: Mapping[str, Any]) -> list[Row]:
        return await (self._hot or await self._driver()).fetch(statement, params)

    async def run(
        self, statement: HotStatement, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> None:
        await (self._hot or await self._driver()).run(statement, params)

    async def _driver(self) -> _PgHot:
        """The asyncpg connection, its transaction begun: SQLAlchemy's adapter begins one
        only at its own first statement, and a hot statement may come first."""
        fairy = await self._conn.get_raw_connection()
        adapted: Any = fairy.dbapi_connection
        if adapted._transaction is None and adapted.isolation_level != "autocommit":
            await adapted._start_transaction()
        self._hot = _PgHot(cast(asyncpg.Connection, fairy.driver_connection), self._conn.dialect)
        return self._hot


class _PgHot(Connection):
    """Prebuilt statements on an asyncpg connection: under SQLAlchemy's (in its
    transaction), or of the hot pool (`Database.hot_read`)."""

    def __init__(self, conn: asyncpg.Connection, dialect: Dialect) -> None:
        self._conn = conn
        self._dialect = dialect

    async def fetch(self, statement: HotStatement, params: Mapping[str, Any]) -> list[Row]:
        compiled = statement.compiled(self._dialect)
        args = compiled.args(params)
        with _raw_pg_errors(compiled.sql, args):
            return compiled.rows(await self._conn.fetch(compiled.sql, *args))

    async def run(
        self, statement: HotStatement, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> None:
        compiled = statement.compiled(self._dialect)
        if isinstance(params, Mapping):
            args = compiled.args(params)
            with _raw_pg_errors(compiled.sql, args):
                await self._conn.execute(compiled.sql, *args)
            return
        many = [compiled.args(one) for one in params]
        with _raw_pg_errors(compiled.sql, many):
            await self._conn.executemany(compiled.sql, many)


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
            self.wal = WalCheckpointer(self._sqlite.raw_connection)
        else:
            from sqlalchemy.ext.asyncio import create_async_engine

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
                        self.wal.committed()
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
            # its log is checkpointed in a thread (store/wal.py): this is a backstop only
            self._sqlite_writer.exec_driver_sql(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
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
        with _driver_errors():
            if self.is_sqlite:
                rows = _SqliteHot(self._hot_reader(), self._sqlite.dialect).fetch(statement, params)
                return next(iter(rows[0].values())) if rows else None
            compiled = statement.compiled(self._pg.dialect)
            pool = self._pg_hot or await self._open_pg_hot()
            return await pool.fetchval(compiled.sql, *compiled.args(params))

    @asynccontextmanager
    async def hot_read(self) -> AsyncIterator[Connection]:
        """Like `read()`, a consistent snapshot, for prebuilt statements only (`fetch`), on
        the driver's own connection: for the reads every poll of a changed task makes."""
        with _driver_errors():
            if self.is_sqlite:
                raw = self._hot_reader()
                raw.execute("BEGIN")
                try:
                    yield _SqliteHotReader(_SqliteHot(raw, self._sqlite.dialect))
                finally:
                    raw.execute("COMMIT")
                return
            pool = self._pg_hot or await self._open_pg_hot()
            async with (
                pool.acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                yield _PgHot(conn, self._pg.dialect)

    async def _open_pg_hot(self) -> asyncpg.Pool:
        """A few connections of asyncpg's own pool for `read_value` and `hot_read`: its
        checkout is a fraction of SQLAlchemy's, and the main pool's overflow is not opened
        and closed under a burst of polls."""
        async with self._pg_hot_lock:
            if self._pg_hot is None:
                self._pg_hot = await asyncpg.create_pool(
                    _asyncpg_dsn(self._driver_url),
                    min_size=1,
                    max_size=self._hot_pool_size,
                    reset=_keep_session,
                    init=_json_codecs,
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
            await self.wal.close()
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


Row = dict[str, Any]


class HotStatement:
    """A Core statement compiled once per dialect to the driver's own SQL, with the
    parameter order and the type conversions (JSON, datetimes) SQLAlchemy applies on the way
    in and out, for `Connection.fetch` / `run` and `Database.read_value`. Values written in
    the statement itself (`status == EXECUTING`) are bound as compiled; expanding
    parameters (`IN` a list) are not supported."""

    def __init__(self, statement: Executable, *, columns: Sequence[str] | None = None) -> None:
        self.statement = statement
        self._columns = columns
        self._compiled: dict[str, _Compiled] = {}

    @classmethod
    def insert(cls, table: sa.Table) -> HotStatement:
        """An insert of one row per parameter mapping, every column named (none generated
        by the database: an autoincrement key is left to it)."""
        columns = [c.name for c in table.c if not (c.primary_key and c.autoincrement is True)]
        return cls(sa.insert(table), columns=columns)

    def compiled(self, dialect: Dialect) -> _Compiled:
        known = self._compiled.get(dialect.name)
        if known is None:
            known = self._compiled[dialect.name] = _Compiled.of(
                self.statement, dialect, self._columns
            )
        return known


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # per positional parameter: its name, its bind conversion, its value compiled in
    names: tuple[str, ...]
    binds: tuple[Callable[[Any], Any] | None, ...]
    fixed: tuple[Any, ...]
    # per result column: its name and its result conversion
    columns: tuple[str, ...]
    results: tuple[Callable[[Any], Any] | None, ...]

    @classmethod
    def of(
        cls, statement: Executable, dialect: Dialect, columns: Sequence[str] | None
    ) -> _Compiled:
        clause = cast(sa.ClauseElement, statement)
        options: dict[str, Any] = {}
        if columns is not None:  # an insert: these columns, no implicit RETURNING
            options = {"column_keys": list(columns), "for_executemany": True}
        compiled = cast(sa.sql.compiler.SQLCompiler, clause.compile(dialect=dialect, **options))
        if any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("a hot statement cannot expand a parameter list")
        names = tuple(compiled.positiontup or ())
        # one callable per parameter: only tuple (composite) types map to several
        processors = cast(dict[str, Callable[[Any], Any]], compiled._bind_processors)
        fixed = tuple(
            _REQUIRED if compiled.binds[name].required else compiled.binds[name].effective_value
            for name in names
        )
        selected = compiled._result_columns
        return cls(
            sql=compiled.string,
            names=names,
            binds=tuple(processors.get(name) for name in names),
            fixed=fixed,
            columns=tuple(column.keyname for column in selected),
            results=tuple(
                column.type._cached_result_processor(dialect, None) for column in selected
            ),
        )

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        args = []
        for name, process, fixed in zip(self.names, self.binds, self.fixed, strict=True):
            value = params[name] if fixed is _REQUIRED else params.get(name, fixed)
            args.append(value if process is None else process(value))
        return args

    def rows(self, rows: Sequence[Sequence[Any]]) -> list[Row]:
        columns, results = self.columns, self.results
        return [
            {
                name: value if process is None else process(value)
                for name, process, value in zip(columns, results, row, strict=True)
            }
            for row in rows
        ]


_REQUIRED = object()  # a parameter the caller must give


class _SqliteHotReader(Connection):
    def __init__(self, hot: _SqliteHot) -> None:
        self._hot = hot

    async def fetch(self, statement: HotStatement, params: Mapping[str, Any]) -> list[Row]:
        return self._hot.fetch(statement, params)


@contextmanager
def _raw_sqlite_errors(sql: str, args: Any) -> Iterator[None]:
    """Driver errors of a hot statement, shaped as SQLAlchemy's, for `_driver_errors`."""
    try:
        yield
    except sqlean.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, args, exc, sqlean.Error) from exc


# SQLSTATE classes of statements that can never succeed as written: data exceptions, syntax
# errors and undefined objects (a bug); any other refusal is the server's state (retry)
_PG_BUG_CLASSES = ("22", "42")


@contextmanager
def _raw_pg_errors(sql: str, args: Any) -> Iterator[None]:
    """asyncpg's errors of a hot statement, shaped as SQLAlchemy's, for `_driver_errors`
    (which takes asyncpg's connection errors as they are)."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise sa.exc.IntegrityError(sql, args, exc) from exc
    except asyncpg.PostgresError as exc:
        if str(exc.sqlstate or "")[:2] in _PG_BUG_CLASSES:
            raise sa.exc.ProgrammingError(sql, args, exc) from exc
        raise sa.exc.OperationalError(sql, args, exc) from exc


async def _json_codecs(conn: asyncpg.Connection) -> None:
    """JSON in and out as SQLAlchemy's asyncpg dialect sets it up on its own connections,
    so that a hot statement's conversions (`HotStatement`) hold on both pools."""
    await conn.set_type_codec(
        "json",
        encoder=str.encode,
        decoder=lambda data: json.loads(data.decode()),
        schema="pg_catalog",
        format="binary",
    )
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda text: b"\x01" + text.encode(),
        decoder=lambda data: json.loads(data[1:].decode()),
        schema="pg_catalog",
        format="binary",
    )


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
        dbapi_connection.load_extension(_SQLITE_VEC)
    finally:
        dbapi_connection.enable_load_extension(False)


def _sqlite_vec_path() -> str:
    """The sqlite-vec extension bundled in the `sqlite_vec` package, found without importing
    the package: its `__init__` imports numpy (~13 MiB) for helpers taskloom does not use."""
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or spec.origin is None:
        raise RuntimeError("the sqlite-vec package is not installed")
    return str(Path(spec.origin).with_name("vec0"))


_SQLITE_VEC = _sqlite_vec_path()


def _asyncpg_dsn(driver_url: str) -> str:
    return make_url(driver_url).set(drivername="postgresql").render_as_string(hide_password=False)
