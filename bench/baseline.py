"""Bare store loops without HTTP: the reference "durable 3-node task, 5 commits per task".

Each task is written the way a durable runner must write it at least: (1) insert it pending,
(2) claim it, (3)-(5) one checkpoint per node, the last one also finishing the task. The loops
run in the driver process (core 1) while the server idles, so throughput figures can be given
as a ratio to what the store alone allows on this machine today.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

_SCHEMA = [
    "CREATE TABLE tasks (id TEXT PRIMARY KEY, status TEXT NOT NULL, input TEXT NOT NULL, "
    "worker TEXT, result TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL)",
    "CREATE TABLE node_runs (task_id TEXT NOT NULL, step INTEGER NOT NULL, output TEXT, "
    "finished_at REAL NOT NULL, PRIMARY KEY (task_id, step))",
]
_NODES: list[Callable[[Any], Any]] = [
    str.upper,
    lambda text: text + " world",
    lambda text: {"text": text, "chars": len(text)},
]


def sqlite_loop(path: Path, tasks: int) -> float:
    """Tasks/s of the bare loop on a SQLite file (WAL, synchronous=NORMAL, like the server)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            conn.execute(statement)
        started = time.perf_counter()
        for i in range(tasks):
            _sqlite_task(conn, f"hello {i}")
        return tasks / (time.perf_counter() - started)
    finally:
        conn.close()


def _sqlite_task(conn: sqlite3.Connection, text: str) -> None:
    task_id = uuid.uuid4().hex
    now = time.time()
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO tasks VALUES (?, 'pending', ?, NULL, NULL, ?, ?)",
            (task_id, json.dumps({"text": text}), now, now),
        )
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE tasks SET status = 'executing', worker = 'w', updated_at = ? WHERE id = ?",
            (time.time(), task_id),
        )
    data: Any = text
    for step, node in enumerate(_NODES):
        data = node(data)
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO node_runs VALUES (?, ?, ?, ?)",
                (task_id, step, json.dumps(data), time.time()),
            )
            if step == len(_NODES) - 1:
                conn.execute(
                    "UPDATE tasks SET status = 'completed', result = ?, updated_at = ? "
                    "WHERE id = ?",
                    (json.dumps(data), time.time(), task_id),
                )


async def postgres_loop(database_url: str, tasks: int) -> float:
    """Tasks/s of the same loop over one asyncpg connection (a scratch schema, dropped after)."""
    conn = await asyncpg.connect(database_url, timeout=10)
    schema = f"bench_loop_{uuid.uuid4().hex[:8]}"
    try:
        await conn.execute(f"CREATE SCHEMA {schema}; SET search_path TO {schema}")
        for statement in _SCHEMA:
            await conn.execute(statement.replace("REAL", "DOUBLE PRECISION"))
        started = time.perf_counter()
        for i in range(tasks):
            await _postgres_task(conn, f"hello {i}")
        return tasks / (time.perf_counter() - started)
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close(timeout=10)


async def _postgres_task(conn: asyncpg.Connection, text: str) -> None:
    task_id = uuid.uuid4().hex
    now = time.time()
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO tasks VALUES ($1, 'pending', $2, NULL, NULL, $3, $3)",
            task_id,
            json.dumps({"text": text}),
            now,
        )
    async with conn.transaction():
        await conn.execute(
            "UPDATE tasks SET status = 'executing', worker = 'w', updated_at = $1 WHERE id = $2",
            time.time(),
            task_id,
        )
    data: Any = text
    for step, node in enumerate(_NODES):
        data = node(data)
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO node_runs VALUES ($1, $2, $3, $4)",
                task_id,
                step,
                json.dumps(data),
                time.time(),
            )
            if step == len(_NODES) - 1:
                await conn.execute(
                    "UPDATE tasks SET status = 'completed', result = $1, updated_at = $2 "
                    "WHERE id = $3",
                    json.dumps(data),
                    time.time(),
                    task_id,
                )
