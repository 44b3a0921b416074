"""A worker holds at most `worker_concurrency` leases, also when it takes over the tasks of a
dead worker: a crash must not turn the survivor into one process that runs the whole queue at
once (and leaves nothing for the other workers that scale-out relies on, docs/concepts.md).
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
    LeaseWatch,
    Store,
    assert_all_completed_once,
    chain,
    until,
)

pytestmark = pytest.mark.crash

NODES = 3
SLEEP_S = 0.3
TASKS = 9
CONCURRENCY = 3
SETTINGS = {**FAST_LEASES, "worker_concurrency": str(CONCURRENCY)}


async def test_worker_taking_over_holds_at_most_its_concurrency(
    cluster: Cluster, http: httpx.AsyncClient, store: Store
) -> None:
    _, base = cluster.api_only(**SETTINGS)
    api = Api(base, cluster.key(), http)
    workflow_id = await api.deploy(chain(NODES, SLEEP_S))
    texts = {await api.invoke(workflow_id, f"task-{i}"): f"task-{i}" for i in range(TASKS)}
    watch = LeaseWatch(store)
    first = cluster.worker(**SETTINGS)

    async def busy() -> bool:
        rows = await watch.sample()
        return any(row["status"] == "executing" for row in rows.values())

    await until(busy, within_s=30, what="the first worker claims tasks")
    first.kill()
    cluster.worker(**SETTINGS)  # sweeps the dead worker's tasks and takes them with the rest

    async def all_terminal() -> dict[str, dict[str, Any]] | None:
        rows = await watch.sample()
        if not all(row["status"] in TERMINAL for row in rows.values()):
            return None
        return await api.tasks(texts)

    final = await until(all_terminal, within_s=45, what="every task terminal")
    assert_all_completed_once(final, await store.node_runs(), texts=texts, nodes=NODES)
    assert not watch.over(CONCURRENCY), (
        f"a worker held more than worker_concurrency={CONCURRENCY} leases at once; "
        f"most held by each worker: {dict(watch.peak)}"
    )
