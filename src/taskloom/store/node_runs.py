"""Node-run queries: the per-node checkpoints a resumed task reuses, and the trace."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from taskloom.store.database import Connection, HotStatement
from taskloom.store.records import NodeRunRecord, NodeRunStatus
from taskloom.store.tables import node_runs

n = node_runs
_INSERT = HotStatement.insert(n)
_TRACE_AFTER = HotStatement(
    sa.select(n)
    .where(n.c.task_id == sa.bindparam("p_task_id"), n.c.id > sa.bindparam("p_after"))
    .order_by(n.c.id)
)


async def record_node_runs(conn: Connection, runs: list[NodeRunRecord]) -> None:
    """Checkpoint node runs in one statement (one round trip for a parallel node's branches)."""
    await conn.run(_INSERT, [_values(run) for run in runs])


def _values(run: NodeRunRecord) -> dict[str, Any]:
    return {
        "task_id": run.task_id,
        "turn": run.turn,
        "step": run.step,
        "iteration": run.iteration,
        "node_id": run.node_id,
        "node_name": run.node_name,
        "node_type": run.node_type,
        "status": run.status,
        "task_attempt": run.task_attempt,
        "retries": run.retries,
        "output": run.output,
        "route": run.route,
        "error": run.error,
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "unreported_calls": run.unreported_calls,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


async def list_node_runs(conn: Connection, *, task_id: str) -> list[NodeRunRecord]:
    """Every recorded run of this task, in the order they finished: its trace."""
    _, runs = await node_runs_after(conn, task_id=task_id, after_id=0)
    return runs


async def node_runs_after(
    conn: Connection, *, task_id: str, after_id: int
) -> tuple[int, list[NodeRunRecord]]:
    """The task's runs recorded after the run numbered `after_id` (0: all of them), in the
    order they finished, and the number of the last one (`after_id` when there is none).

    A task's runs are numbered in the order their transactions committed: each insert comes
    after the fenced update of the task's row in the same transaction (`nodes_finished`),
    whose lock makes them take turns. So what was read up to a number stays the whole trace
    up to it, and a trace can be read once and then extended."""
    rows = await conn.fetch(_TRACE_AFTER, {"p_task_id": task_id, "p_after": after_id})
    last = rows[-1]["id"] if rows else after_id
    return last, [NodeRunRecord.from_row(row) for row in rows]


async def completed_outputs(
    conn: Connection, *, task_id: str, turn: int
) -> dict[tuple[str, int], NodeRunRecord]:
    """Checkpoints of one turn, by (step, iteration): the node runs that completed there."""
    rows = await conn.execute(
        sa.select(n).where(
            n.c.task_id == task_id, n.c.turn == turn, n.c.status == NodeRunStatus.COMPLETED
        )
    )
    return {(r["step"], r["iteration"]): NodeRunRecord.from_row(r) for r in rows.mappings()}


async def turn_tokens(conn: Connection, *, task_id: str, turn: int) -> tuple[int, int, int]:
    """(prompt, completion) tokens the node runs of one turn used, and how many model calls
    of theirs went uncounted."""
    found = await conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(n.c.prompt_tokens), 0).label("prompt"),
            sa.func.coalesce(sa.func.sum(n.c.completion_tokens), 0).label("completion"),
            sa.func.coalesce(sa.func.sum(n.c.unreported_calls), 0).label("unreported"),
        ).where(n.c.task_id == task_id, n.c.turn == turn)
    )
    row = found.mappings().one()
    return int(row["prompt"]), int(row["completion"]), int(row["unreported"])
