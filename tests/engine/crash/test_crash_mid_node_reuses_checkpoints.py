"""Invariant 1 under `kill -9`: a worker killed mid-task loses no task and re-runs no completed
node; the tasks it held come back after their lease expires and resume at the first
unfinished node, under a higher attempt (invariant 2: no task is left executing on a dead lease).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.engine.crash.harness import (
    FAST_LEASES,
    TERMINAL,
    Api,
    Cluster,
    Frozen,
    LeaseWatch,
    Store,
    assert_all_completed_once,
    assert_leases_settled,
    assert_resumed_from_checkpoints,
    assert_streams_end_finished,
    chain,
    completed_runs,
    frozen_when,
    until,
)

pytestmark = pytest.mark.crash

NODES = 4
SLEEP_S = 0.3
TASKS = 8


async def test_worker_killed_mid_task_resumes_from_checkpoints(
    cluster: Cluster, http: httpx.AsyncClient, store: Store
) -> None:
    _, base = cluster.api_only(**FAST_LEASES)
    api = Api(base, cluster.key(), http)
    workflow_id = await api.deploy(chain(NODES, SLEEP_S))
    texts = {await api.invoke(workflow_id, f"task-{i}"): f"task-{i}" for i in range(TASKS)}
    first = cluster.worker(**FAST_LEASES)
    watch = LeaseWatch(store)

    async def mid_run() -> list[str] | None:
        await watch.sample()
        found = await api.tasks(texts)
        started = [
            task_id
            for task_id, task in found.items()
            if task["status"] == "executing" and 0 < len(completed_runs(task)) < NODES
        ]
        return started if len(started) >= 3 else None

    await frozen_when(first, mid_run, within_s=30, what="3 tasks executing with 1+ completed node")
    first.kill()
    frozen = await Frozen.read(store)
    interrupted = frozen.with_status("executing")
    assert len(frozen.with_status("pending")) == 0  # concurrency 64: the worker took all 8

    cluster.worker(**FAST_LEASES)

    async def all_terminal() -> dict[str, dict[str, Any]] | None:
        await watch.sample()
        found = await api.tasks(texts)
        return found if all(task["status"] in TERMINAL for task in found.values()) else None

    final = await until(all_terminal, within_s=45, what="every task terminal after the restart")
    runs = await store.node_runs()
    assert_all_completed_once(final, runs, texts=texts, nodes=NODES)
    assert_resumed_from_checkpoints(final, runs, frozen, interrupted)
    await assert_streams_end_finished(api, final)
    untouched = set(texts) - interrupted
    assert all(final[task_id]["execution_attempts"] == 1 for task_id in untouched), {
        task_id: final[task_id]["execution_attempts"] for task_id in untouched
    }
    assert_leases_settled(await store.tasks(), watch)
