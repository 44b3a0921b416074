"""A store that has been in use: 100,000 finished tasks written straight into the database.

Running that many tasks through the server would take most of an hour; what the store100k part
measures is how reads and the queue behave beside them, so one finished W1 task (its row, its
turn, its node runs and its events) is copied `count` times under new ids, in one statement per
table (a recursive counter joined to the template's rows), while the server idles. The copies
belong to the same organization and workflow as the template, as a busy user's history would.

PostgreSQL gets an ANALYZE afterwards, which autovacuum would run on its own within a minute of
such an insert; SQLite gets nothing, as a user's store gets nothing.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from taskloom.store import tables

# the tables that hold a task's history, each with the column naming the task
_HISTORY = (
    (tables.tasks, "id"),
    (tables.task_turns, "task_id"),
    (tables.node_runs, "task_id"),
    (tables.task_events, "task_id"),
)


def _async_url(url: str) -> str:
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


def _copies(table: sa.Table, key: str, template_id: str, count: int) -> sa.Insert:
    """INSERT INTO table SELECT the template's rows once per n in 1..count, keyed 'fill-n-…'."""
    one = sa.literal_column("1")
    counter = sa.select(one.label("n")).cte("counter", recursive=True)
    counter = counter.union_all(
        sa.select(counter.c.n + one).where(counter.c.n < sa.literal_column(str(count)))
    )
    # node_runs' own id is a sequence: leave it to the database
    columns = [c for c in table.c if not (c.primary_key and c.autoincrement is True)]
    new_key = sa.literal_column("'fill-'") + sa.cast(counter.c.n, sa.String) + "-" + table.c[key]
    picked = [new_key.label(key) if c.name == key else c for c in columns]
    rows = sa.select(*picked).select_from(table).join(counter, sa.true())
    return table.insert().from_select(
        [c.name for c in columns], rows.where(table.c[key] == template_id)
    )


async def fill(store_url: str, template_id: str, count: int) -> dict[str, float]:
    """Copy task `template_id` `count` times; returns each table's rows after, and seconds."""
    engine = create_async_engine(_async_url(store_url))
    figures: dict[str, float] = {}
    started = time.perf_counter()
    try:
        async with engine.begin() as conn:
            for table, key in _HISTORY:
                await conn.execute(_copies(table, key, template_id, count))
            # rowcount of INSERT ... SELECT is -1 through some drivers: count what is there
            for table, _ in _HISTORY:
                rows = await conn.scalar(sa.select(sa.func.count()).select_from(table))
                figures[f"rows_{table.name}"] = float(rows or 0)
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(sa.text("ANALYZE"))
    finally:
        await engine.dispose()
    figures["seconds"] = time.perf_counter() - started
    return figures
