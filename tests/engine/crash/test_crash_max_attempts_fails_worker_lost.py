"""Invariant 2 when workers keep dying: past `max_attempts` lost workers the task ends `failed`
with status_reason `worker_lost` (never stuck `executing`, never run a third time), the
attempts it did make reused each other's checkpoints, and its event stream ends with the
`task_finished` that says so (invariant 3, docs/events.md).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.engine.crash.harness import (
    FAST_LEASES,
    Api,
    Cluster,
    LeaseWatch,
    Store,
    assert_leases_settled,
    assert_streams_end_finished,
    chain,
    completed_runs,
    duplicate_checkpoints,
    frozen_when,
    trace_duplicates,
    until,
)

pytestmark = pytest.mark.crash

NODES = 8
SLEEP_S = 0.4
SETTINGS = {**FAST_LEASES, "max_attempts": "2"}


async def test_worker_lost_twice_with_max_attempts_2_fails_the_task(
    cluster: Cluster, http: httpx.AsyncClient, store: Store
) -> None:
    _, base = cluster.api_only(**SETTINGS)  # the API stamps max_attempts on the task row
    api = Api(base, cluster.key(), http)
    workflow_id = await api.deploy(chain(NODES, SLEEP_S))
    task_id = await api.invoke(workflow_id, "doomed")
    watch = LeaseWatch(store)

    def running_attempt(attempt: int) -> Any:
        async def check() -> dict[str, Any] | None:
            await watch.sample()
            task = await api.task(task_id)
            mine = [run for run in completed_runs(task) if run["attempt"] == attempt]
            running = task["status"] == "executing" and task["execution_attempts"] == attempt
            return task if running and mine else None

        return check

    for attempt in (1, 2):
        worker = cluster.worker(**SETTINGS)
        await frozen_when(
            worker,
            running_attempt(attempt),
            within_s=30,
            what=f"attempt {attempt} executing with a completed node of its own",
        )
        worker.kill()

    cluster.worker(**SETTINGS)  # its sweeper finds attempt 2's lease expired

    async def settled() -> dict[str, Any] | None:
        await watch.sample()
        task = await api.task(task_id)
        return task if task["status"] != "executing" else None

    task = await until(settled, within_s=20, what="the task leaves `executing`")
    assert task["status"] == "failed", task
    assert task["status_reason"] == "worker_lost", task
    assert task["status_message"], task
    assert task["execution_attempts"] == 2, task
    assert task["finished_at"] is not None, task
    assert task["result"] is None, task

    runs = await store.node_runs()
    assert not duplicate_checkpoints(runs)
    assert not trace_duplicates(task)
    attempts = sorted({run["attempt"] for run in completed_runs(task)})
    assert attempts == [1, 2], f"completed node runs came from attempts {attempts}"
    first = {run["step"] for run in completed_runs(task) if run["attempt"] == 1}
    second = {run["step"] for run in completed_runs(task) if run["attempt"] == 2}
    # attempt 2 resumed where attempt 1 stopped: its steps all come after attempt 1's
    assert max(int(s) for s in first) < min(int(s) for s in second), (first, second)

    rows = await store.tasks()
    assert rows[task_id]["attempt"] == 2, rows[task_id]
    assert_leases_settled(rows, watch)
    # a stream on this task must end, and end by saying it failed
    await assert_streams_end_finished(api, {task_id: task})
