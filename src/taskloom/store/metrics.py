"""What `/metrics` reports about the store, read in one snapshot at scrape time.

Counts come from the tables themselves rather than from counters in each process: every API
process of a deployment reports the same, exact numbers for the whole deployment (all
workers included), and a restart loses nothing. The queries are aggregates; the histograms'
buckets are summed in SQL, so a scrape moves a few rows, not the runs themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from taskloom.store.database import Connection
from taskloom.store.records import TaskStatus
from taskloom.store.tables import node_runs, task_turns, tasks, webhook_deliveries

# seconds: a claim is usually milliseconds, a node anywhere from milliseconds to minutes
CLAIM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
NODE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass(frozen=True, slots=True)
class Histogram:
    """Cumulative bucket counts (one per bound, then +Inf), the count and the sum."""

    buckets: tuple[tuple[float, int], ...]
    count: int
    total: float


@dataclass(frozen=True, slots=True)
class StoreMetrics:
    tasks_by_status: dict[str, int]
    turns_accepted: int
    turns_finished_by_status: dict[str, int]
    queue_depth: int
    oldest_pending_s: float  # 0 with nothing pending
    claim_latency: Histogram
    node_durations: dict[tuple[str, str], Histogram]  # (node type, status)
    node_tokens: dict[tuple[str, str], int]  # (node type, prompt | completion)
    # model calls whose provider reported no usage, by node type: the tokens leave them out
    node_unreported_calls: dict[str, int] = field(default_factory=dict)
    deliveries_by_status: dict[str, int] = field(default_factory=dict)


def rows(result: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in result.all()]


def seconds_between(start: Any, end: Any, *, sqlite: bool) -> Any:
    if sqlite:  # timestamps are ISO text there; julianday() reads them, offset included
        return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0
    return sa.extract("epoch", end - start)


def histogram_columns(seconds: Any, bounds: tuple[float, ...]) -> list[Any]:
    return [
        *(sa.func.sum(sa.case((seconds <= bound, 1), else_=0)) for bound in bounds),
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(seconds), 0.0),
    ]


def histogram_from(row: Any, offset: int, bounds: tuple[float, ...]) -> Histogram:
    counts = [int(row[offset + i] or 0) for i in range(len(bounds))]
    count = int(row[offset + len(bounds)] or 0)
    total = float(row[offset + len(bounds) + 1] or 0.0)
    return Histogram(buckets=tuple(zip(bounds, counts, strict=True)), count=count, total=total)


async def read_store_metrics(conn: Connection, *, now: datetime, sqlite: bool) -> StoreMetrics:
    by_status = await conn.execute(
        sa.select(tasks.c.status, sa.func.count()).group_by(tasks.c.status)
    )
    tasks_by_status = {str(status): int(n) for status, n in rows(by_status)}

    pending = await conn.execute(
        sa.select(sa.func.count(), sa.func.min(tasks.c.updated_at)).where(
            tasks.c.status == TaskStatus.PENDING
        )
    )
    depth, oldest = rows(pending)[0]
    if isinstance(oldest, str):  # in case an aggregate skips the column type on SQLite
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    oldest_s = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0

    accepted = await conn.execute(sa.select(sa.func.count()).select_from(task_turns))
    finished = await conn.execute(
        sa.select(task_turns.c.status, sa.func.count())
        .where(task_turns.c.finished_at.is_not(None))
        .group_by(task_turns.c.status)
    )

    waited = seconds_between(task_turns.c.created_at, task_turns.c.started_at, sqlite=sqlite)
    claims = await conn.execute(
        sa.select(*histogram_columns(waited, CLAIM_BUCKETS)).where(
            task_turns.c.started_at.is_not(None)
        )
    )

    ran = seconds_between(node_runs.c.started_at, node_runs.c.finished_at, sqlite=sqlite)
    nodes = await conn.execute(
        sa.select(
            node_runs.c.node_type,
            node_runs.c.status,
            sa.func.sum(node_runs.c.prompt_tokens),
            sa.func.sum(node_runs.c.completion_tokens),
            sa.func.sum(node_runs.c.unreported_calls),
            *histogram_columns(ran, NODE_BUCKETS),
        ).group_by(node_runs.c.node_type, node_runs.c.status)
    )
    durations: dict[tuple[str, str], Histogram] = {}
    tokens: dict[tuple[str, str], int] = {}
    unreported: dict[str, int] = {}
    for row in rows(nodes):
        node_type, status = str(row[0]), str(row[1])
        durations[(node_type, status)] = histogram_from(row, 5, NODE_BUCKETS)
        for kind, used in (("prompt", row[2]), ("completion", row[3])):
            key = (node_type, kind)
            tokens[key] = tokens.get(key, 0) + int(used or 0)
        unreported[node_type] = unreported.get(node_type, 0) + int(row[4] or 0)

    deliveries = await conn.execute(
        sa.select(webhook_deliveries.c.status, sa.func.count()).group_by(
            webhook_deliveries.c.status
        )
    )
    return StoreMetrics(
        tasks_by_status=tasks_by_status,
        turns_accepted=int(accepted.scalar() or 0),
        turns_finished_by_status={str(s): int(n) for s, n in rows(finished)},
        queue_depth=int(depth or 0),
        oldest_pending_s=oldest_s,
        claim_latency=histogram_from(rows(claims)[0], 0, CLAIM_BUCKETS),
        node_durations=durations,
        node_tokens=tokens,
        node_unreported_calls=unreported,
        deliveries_by_status={str(s): int(n) for s, n in rows(deliveries)},
    )
