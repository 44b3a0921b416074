"""A graceful stop (SIGTERM) of a worker hands its unfinished tasks back to the queue when it
exits: another worker resumes them from their checkpoints at once, long before their leases
would have expired, and no completed node runs again.

The worker drains for a fixed grace period (10 s) before it hands back what is still running,
so these tasks are made to last longer than that.
"""

from __future__ import annotations

import signal
import time
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
    completed_runs,
    log_text,
    until,
    wait_logged,
)

pytestmark = pytest.mark.crash

NODES = 10
SLEEP_S = 2.0  # 20 s a task: longer than the worker's 10 s shutdown grace
TASKS = 3
LEASE_S = 60.0  # expiry would come far too late for the deadlines below
SETTINGS = {"lease_s": str(LEASE_S), "heartbeat_s": "0.5", "sweep_s": "0.5", "poll_s": "0.2"}
HANDBACK_WITHIN_S = 25.0  # grace (10 s) + start-up slack, well short of LEASE_S


async def test_sigterm_hands_tasks_back_without_waiting_for_lease_expiry(
    cluster: Cluster, http: httpx.AsyncClient, store: Store
) -> None:
    _, base = cluster.api_only(**SETTINGS)
    api = Api(base, cluster.key(), http)
    workflow_id = await api.deploy(chain(NODES, SLEEP_S))
    texts = {await api.invoke(workflow_id, f"task-{i}"): f"task-{i}" for i in range(TASKS)}
    leaving = cluster.worker(**SETTINGS)
    watch = LeaseWatch(store)

    async def all_started() -> bool:
        await watch.sample()
        found = await api.tasks(texts)
        return all(
            task["status"] == "executing" and completed_runs(task) for task in found.values()
        )

    await until(all_started, within_s=30, what="every task executing with a checkpoint")
    owners = {row["lease_owner"] for row in (await store.tasks()).values()}
    assert len(owners) == 1, owners
    (leaving_id,) = owners

    staying = cluster.worker(**SETTINGS)
    await wait_logged(staying, "worker started")
    assert leaving.popen is not None
    leaving.popen.send_signal(signal.SIGTERM)
    sent = time.monotonic()

    async def exited() -> bool:
        await watch.sample()
        return leaving.popen is not None and leaving.popen.poll() is not None

    await until(exited, within_s=HANDBACK_WITHIN_S, what="the worker exits after SIGTERM")
    assert leaving.popen.returncode == 0, leaving.popen.returncode
    assert "leases released" in log_text(leaving)
    at_exit = await Frozen.read(store)
    held = at_exit.with_status("executing", owner=leaving_id)
    assert not held, f"the stopped worker still holds leases: {held}"
    for task_id, row in at_exit.tasks.items():
        # back in the queue, or already taken by the other worker as a new attempt
        back = row["status"] == "pending" and row["attempt"] == 1
        taken = row["status"] == "executing" and row["attempt"] == 2
        assert back or taken, f"{task_id} after the graceful stop: {row}"
    # what the stopped worker left behind: its own attempt and the checkpoints it wrote
    frozen = Frozen(
        tasks={task_id: {**row, "attempt": 1} for task_id, row in at_exit.tasks.items()},
        runs=[run for run in at_exit.runs if run["task_attempt"] == 1],
    )

    async def reclaimed() -> bool:
        await watch.sample()
        rows = await store.tasks()
        return all(
            row["status"] in TERMINAL or (row["status"] == "executing" and row["attempt"] == 2)
            for row in rows.values()
        )

    await until(reclaimed, within_s=10, what="the other worker claims the handed-back tasks")
    assert time.monotonic() - sent < LEASE_S - 10, "reclaimed only after the lease would expire"

    async def all_terminal() -> dict[str, dict[str, Any]] | None:
        await watch.sample()
        found = await api.tasks(texts)
        return found if all(task["status"] in TERMINAL for task in found.values()) else None

    final = await until(all_terminal, within_s=30, what="every task terminal")
    runs = await store.node_runs()
    assert_all_completed_once(final, runs, texts=texts, nodes=NODES)
    assert_resumed_from_checkpoints(final, runs, frozen, set(texts))
    await assert_streams_end_finished(api, final)
    assert all(task["execution_attempts"] == 2 for task in final.values())
    assert_leases_settled(await store.tasks(), watch)
    assert staying.popen is not None
    assert staying.popen.poll() is None
