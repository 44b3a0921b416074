"""Invariant 2 at the worker's executor boundary: whatever makes the runner blow up, the task
must not stay `executing` behind a lease that its (live) worker keeps renewing for nobody.

The worker's boundary catches the exception and trusts "the lease will expire and the sweeper
requeues the task (or fails it after max_attempts)". A failing branch of a `parallel` node is
one such exception (the branch's TaskGroup raises an ExceptionGroup, not NodeFailed). A plain
failing code node is the control: it ends `error` / `node_error`, as docs/concepts.md says a
workflow whose user code crashed must.
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
    lease_problems,
    log_text,
    until,
)
from tests.support.workflows import code_node

pytestmark = pytest.mark.crash

SETTINGS = {**FAST_LEASES, "max_attempts": "2"}


def failing_code() -> dict[str, Any]:
    return {
        "name": "fails-plain",
        "orchestration_nodes": [
            code_node("start", "return input", next_ids=["bad"]),
            code_node("bad", "raise ValueError('boom')"),
        ],
    }


def failing_branch() -> dict[str, Any]:
    branches = [code_node("ok", "return 1"), code_node("bad", "raise ValueError('boom')")]
    return {
        "name": "fails-in-branch",
        "orchestration_nodes": [
            code_node("start", "return input", next_ids=["fan"]),
            {"id": "fan", "type": "parallel", "name": "fan", "definition": {"nodes": branches}},
        ],
    }


@pytest.mark.parametrize("workflow", [failing_code, failing_branch], ids=["plain", "branch"])
async def test_failing_user_code_ends_error_not_stuck_executing(
    cluster: Cluster,
    http: httpx.AsyncClient,
    store: Store,
    workflow: Any,
) -> None:
    server, base = cluster.serve(**SETTINGS)
    api = Api(base, cluster.key(), http)
    task_id = await api.invoke(await api.deploy(workflow()), "hello")
    watch = LeaseWatch(store)

    async def terminal() -> dict[str, Any] | None:
        await watch.sample()
        task = await api.task(task_id)
        return task if task["status"] in TERMINAL else None

    try:
        # far beyond what two attempts on 2 s leases take, even via the sweeper
        task = await until(terminal, within_s=20, what="the task reaches a terminal state")
    except AssertionError as exc:
        rows = await store.tasks()
        row = rows[task_id]
        crashed = [line for line in log_text(server).splitlines() if "crashed the runner" in line]
        pytest.fail(
            f"{exc}\nstuck row: status={row['status']} attempt={row['attempt']} "
            f"lease_owner={row['lease_owner']} lease_expires_at={row['lease_expires_at']} "
            f"(lease problems: {lease_problems(rows, expired_slack_s=0.0)})\n"
            f"server log: {crashed[:3]}"
        )
    assert task["status"] == "error", task
    assert task["status_reason"] == "node_error", task
    assert "boom" in (task["status_message"] or ""), task
    rows = await store.tasks()
    assert not lease_problems(rows, expired_slack_s=0.0)
    assert not watch.problems, watch.problems
