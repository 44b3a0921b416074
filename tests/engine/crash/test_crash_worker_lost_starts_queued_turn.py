"""Invariant 1 for conversations: a turn queued behind a running one (`?busy=enqueue`) is an
accepted invoke, so it must still run when the running turn ends `failed` / `worker_lost`
after its worker died; exactly as it does when a turn ends any other way.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.engine.crash.harness import (
    FAST_LEASES,
    Api,
    Cluster,
    Store,
    chain,
    chain_result,
    completed_runs,
    until,
)

pytestmark = pytest.mark.crash

NODES = 4
SLEEP_S = 0.3
SETTINGS = {**FAST_LEASES, "max_attempts": "1"}  # one lost worker fails the turn


async def test_turn_queued_behind_a_worker_lost_turn_still_runs(
    cluster: Cluster, http: httpx.AsyncClient, store: Store
) -> None:
    _, base = cluster.api_only(**SETTINGS)
    api = Api(base, cluster.key(), http)
    workflow_id = await api.deploy(chain(NODES, SLEEP_S))
    task_id = await api.invoke(workflow_id, "first")
    first = cluster.worker(**SETTINGS)

    async def half_run() -> bool:
        task = await api.task(task_id)
        return task["status"] == "executing" and bool(completed_runs(task))

    await until(half_run, within_s=30, what="turn 1 executing with a checkpoint")
    queued = await api.invoke_turn(workflow_id, task_id, "second")
    assert queued["id"] == task_id, queued
    first.kill()
    cluster.worker(**SETTINGS)

    async def turn_one_over() -> bool:
        # over when it published its task_finished, or at least when the row left turn 1
        finished = [e for e in await store.events(task_id) if e["type"] == "task_finished"]
        row = (await store.tasks())[task_id]
        return bool(finished) or row["turn"] > 1 or row["status"] != "executing"

    await until(turn_one_over, within_s=20, what="turn 1 (max_attempts=1) is over")

    async def turn_two_done() -> dict[str, Any] | None:
        task = await api.task(task_id)
        return task if task["status"] == "completed" else None

    problems = []
    try:
        task = await until(turn_two_done, within_s=15, what="the queued turn 2 completes")
    except AssertionError as exc:
        row = (await store.tasks())[task_id]
        turns = [(t["turn"], t["status"], t["status_reason"]) for t in await store.turns(task_id)]
        problems.append(
            f"{exc}: the task row is turn {row['turn']} {row['status']} "
            f"({row['status_reason']}), its turns are {turns}"
        )
    else:
        assert task["result"] == chain_result("second", NODES), task
    # turn 1 is lost for good: its end must be published like any other turn's
    finished = [e for e in await store.events(task_id) if e["type"] == "task_finished"]
    first_end = [(e["data"]["status"], e["data"]["status_reason"]) for e in finished[:1]]
    if first_end != [("failed", "worker_lost")]:
        kinds = [e["type"] for e in await store.events(task_id)]
        problems.append(f"turn 1's task_finished: {first_end}; the event log: {kinds}")
    assert not problems, "\n".join(problems)
