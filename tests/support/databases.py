"""Real PostgreSQL for tests: one migrated database per test process, emptied per test."""

from __future__ import annotations

import os

import asyncpg  # type: ignore[import-untyped]

from taskloom.store.database import Database
from taskloom.store.migrate import upgrade
from taskloom.store.tables import metadata

PG_ADMIN_URL = os.environ.get("TASKLOOM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


_BASE = PG_ADMIN_URL.rsplit("/", 1)[0]
# one migrated database per test process, emptied before each test: creating and dropping a
# database per test costs seconds on a loaded machine, a TRUNCATE tens of milliseconds
_SESSION_DB = f"taskloom_test_{os.getpid()}"
_session_ready = False


async def _ensure_session_database() -> None:
    global _session_ready
    if _session_ready:
        return
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{_SESSION_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{_SESSION_DB}"')
    finally:
        await conn.close()
    async with Database(f"{_BASE}/{_SESSION_DB}") as db:
        await upgrade(db)
    _session_ready = True


async def fresh_pg_database() -> str:
    """The test process's PostgreSQL database, migrated and with every table empty."""
    await _ensure_session_database()
    url = f"{_BASE}/{_SESSION_DB}"
    conn = await asyncpg.connect(url)
    try:
        tables = metadata.sorted_tables
        names = ", ".join(f'"{table.name}"' for table in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    return url


async def drop_session_database() -> None:
    if not _session_ready:
        return
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{_SESSION_DB}" WITH (FORCE)')
    finally:
        await conn.close()
