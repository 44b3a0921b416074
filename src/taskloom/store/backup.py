"""A consistent copy of a SQLite store while the server runs: SQLite's online backup API.

The copy is taken in steps of `pages`, so writers wait at most one step's worth at a time,
into a temporary file beside the destination that replaces it only once the copy has passed
`PRAGMA integrity_check`. PostgreSQL has its own tools (pg_dump); see docs/operations.md.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from taskloom import errors
from taskloom.store.database import driver_url


@dataclass(frozen=True, slots=True)
class BackupDone:
    source: Path
    destination: Path
    pages: int
    size_bytes: int


def sqlite_path(database_url: str) -> Path:
    dialect, url = driver_url(database_url)
    if dialect != "sqlite":
        raise errors.InvalidRequest(
            "taskloom backup copies SQLite stores; back PostgreSQL up with pg_dump "
            "(docs/operations.md)"
        )
    database = make_url(url).database
    if not database or database == ":memory:":
        raise errors.InvalidRequest("an in-memory database has nothing to back up")
    path = Path(database).expanduser()
    if not path.is_file():
        raise errors.NotFound(f"no database file at {path}")
    return path


def backup_sqlite(database_url: str, destination: Path, *, pages: int = 1024) -> BackupDone:
    source = sqlite_path(database_url)
    destination = destination.expanduser()
    if destination.resolve() == source.resolve():
        raise errors.InvalidRequest("the backup must go to another file than the database")
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with (
            sqlite3.connect(source, timeout=30) as src,
            sqlite3.connect(partial) as dst,
        ):
            src.backup(dst, pages=pages)
            copied = dst.execute("PRAGMA page_count").fetchone()[0]
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise errors.TaskloomError(f"the copy failed its integrity check: {check}")
        os.replace(partial, destination)
    except sqlite3.Error as exc:
        raise errors.TaskloomError(f"backup failed: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return BackupDone(source, destination, int(copied), destination.stat().st_size)
