"""Invariant 1 at scale-out (PostgreSQL only): one API process and three workers share a
database; killing one worker mid-run loses no task, its tasks go to the survivors, and across
all fifty tasks every node completes exactly once.
(That each worker then holds at most `worker_concurrency` tasks is
test_crash_takeover_respects_worker_concurrency.py's business.)
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.engine.crash.harness import (
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
    frozen_when,
    until,
    wait_logged,
)

pytestmark = pytest.mark.crash

NODES = 4
SLEEP_S = 0.3
TASKS = 50
CONCURRENCY = 6  # so that the queue has to be shared
SETTINGS = {
    "lease_s": "3",
    "heartbeat_s": "0.5",
    "sweep_s": "0.5",
    "poll_s": "0.2",
    "worker_concurrency": str(CONCURRENCY),
}


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_three_workers_one_killed_fifty_tasks_each_node_once(
    cluster: Cluster, http: httpx.AsyncClient, store: Store
) -> None:
    _, base = cluster.api_only(**SETTINGS)
    api = Api(base, cluster.key(), http)
    workflow_id = await api.deploy(chain(NODES, SLEEP_S))
    texts = {await api.invoke(workflow_id, f"task-{i}"): f"task-{i}" for i in range(TASKS)}
    watch = LeaseWatch(store)

    # the victim starts alone, so that its lease_owner id is known
    victim = cluster.worker(**SETTINGS)

    async def victim_busy() -> str | None:
        rows = await watch.sample()
        done = {run["task_id"] for run in await store.node_runs() if run["status"] == "completed"}
        owners = {
            row["lease_owner"]
            for task_id, row in rows.items()
            if row["status"] == "executing" and task_id in done
        }
        return owners.pop() if len(owners) == 1 else None

    victim_id = await until(victim_busy, within_s=30, what="the first worker runs tasks")
    survivors = [cluster.worker(**SETTINGS) for _ in range(2)]
    for survivor in survivors:
        await wait_logged(survivor, "worker started")

    async def victim_mid_task() -> bool:
        rows = await watch.sample()
        done = {run["task_id"] for run in await store.node_runs() if run["status"] == "completed"}
        return any(
            row["status"] == "executing" and row["lease_owner"] == victim_id and task_id in done
            for task_id, row in rows.items()
        )

    await frozen_when(
        victim, victim_mid_task, within_s=30, what="the first worker holds a half-run task"
    )
    victim.kill()
    frozen = await Frozen.read(store)
    interrupted = frozen.with_status("executing", owner=victim_id)

    async def all_terminal() -> dict[str, dict[str, Any]] | None:
        rows = await watch.sample()
        if not all(row["status"] in TERMINAL for row in rows.values()):
            return None
        return await api.tasks(texts)

    final = await until(all_terminal, within_s=60, what="all fifty tasks terminal")
    runs = await store.node_runs()
    assert_all_completed_once(final, runs, texts=texts, nodes=NODES)
    assert_resumed_from_checkpoints(final, runs, frozen, interrupted)
    await assert_streams_end_finished(api, final)
    retried = {task_id for task_id, task in final.items() if task["execution_attempts"] > 1}
    assert retried == interrupted, (
        f"retried but not the dead worker's: {sorted(retried - interrupted)}; "
        f"the dead worker's but not retried: {sorted(interrupted - retried)}"
    )
    assert_leases_settled(await store.tasks(), watch)
    assert all(worker.popen is not None and worker.popen.poll() is None for worker in survivors)
