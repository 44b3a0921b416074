"""Invariant 1 across a `kill -9` of `taskloom serve` (API + embedded worker): restarted on the
same database it finishes every task, pending or half-run, and re-runs no completed node; a task
that was still waiting in the queue is not charged an attempt.
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
    until,
)

pytestmark = pytest.mark.crash

NODES = 4
SLEEP_S = 0.3
TASKS = 8
CONCURRENCY = 3  # so that some tasks wait in the queue
SERVE = {**FAST_LEASES, "worker_concurrency": str(CONCURRENCY)}


async def test_serve_killed_with_pending_and_executing_tasks_finishes_all_on_restart(
    cluster: Cluster, http: httpx.AsyncClient, store: Store
) -> None:
    server, base = cluster.serve(**SERVE)
    api = Api(base, cluster.key(), http)
    workflow_id = await api.deploy(chain(NODES, SLEEP_S))
    texts = {await api.invoke(workflow_id, f"task-{i}"): f"task-{i}" for i in range(TASKS)}
    watch = LeaseWatch(store)

    async def mid_run() -> bool:
        await watch.sample()
        found = await api.tasks(texts)
        started = [
            task
            for task in found.values()
            if task["status"] == "executing" and 0 < len(completed_runs(task)) < NODES
        ]
        waiting = [task for task in found.values() if task["status"] == "pending"]
        return bool(started) and bool(waiting)

    try:
        await until(mid_run, within_s=30, what="a task executing with a checkpoint, one pending")
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}; most tasks one worker held at once (worker_concurrency={CONCURRENCY}): "
            f"{dict(watch.peak)}"
        ) from None
    server.kill()
    frozen = await Frozen.read(store)
    interrupted = frozen.with_status("executing")
    queued = frozen.with_status("pending")
    assert queued, "no task was pending at the crash"

    _, base = cluster.serve(**SERVE)
    api = Api(base, api.key, http)

    async def all_terminal() -> dict[str, dict[str, Any]] | None:
        await watch.sample()
        found = await api.tasks(texts)
        return found if all(task["status"] in TERMINAL for task in found.values()) else None

    final = await until(all_terminal, within_s=60, what="every task terminal after the restart")
    runs = await store.node_runs()
    assert_all_completed_once(final, runs, texts=texts, nodes=NODES)
    assert_resumed_from_checkpoints(final, runs, frozen, interrupted)
    await assert_streams_end_finished(api, final)
    charged = {
        t: final[t]["execution_attempts"] for t in queued if final[t]["execution_attempts"] != 1
    }
    assert not charged, f"tasks still queued at the crash were charged attempts: {charged}"
    assert_leases_settled(await store.tasks(), watch)
