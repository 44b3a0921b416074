"""A `kill -9` of `taskloom serve` while tasks are paused at a wait node: after the restart
they are still paused (nothing ran them meanwhile) and finish once approved; a wait whose
deadline passed while the server was down is fired once, late, by the restarted server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.engine.crash.harness import FAST_LEASES, TERMINAL, Api, Cluster, Store, until
from tests.support.workflows import code_node

pytestmark = pytest.mark.crash

WAITING = 3
DEADLINE_S = 1.0


def approval(timeout_s: float | None = None) -> dict[str, Any]:
    wait: dict[str, Any] = {"type": "hitl"}
    if timeout_s is not None:
        wait |= {"timeout_seconds": timeout_s, "on_timeout": "approve"}
    return {
        "name": "approval",
        "orchestration_nodes": [
            {"id": "ask", "type": "wait", "definition": wait, "next_node_ids": ["after"]},
            code_node("after", "return 'approved by ' + input['decided_by']"),
        ],
    }


async def test_paused_tasks_survive_a_kill_and_a_missed_deadline_fires_once(
    cluster: Cluster, http: httpx.AsyncClient, store: Store
) -> None:
    server, base = cluster.serve(**FAST_LEASES)
    api = Api(base, cluster.key(), http)
    waiting = [await api.invoke(await api.deploy(approval()), f"t{i}") for i in range(WAITING)]
    timed = await api.invoke(await api.deploy(approval(DEADLINE_S)), "timed")

    async def all_paused() -> bool:
        found = await api.tasks([*waiting, timed])
        return all(task["status"] == "paused" for task in found.values())

    await until(all_paused, within_s=30, what="every task paused at its wait node")
    due = datetime.fromisoformat((await api.task(timed))["hitl_request"]["expires_at"])
    server.kill()

    async def deadline_passed() -> bool:  # the server is down across the deadline
        return datetime.now(UTC) > due + timedelta(seconds=0.5)

    await until(deadline_passed, within_s=10, what="the deadline to pass while down")
    _, base = cluster.serve(**FAST_LEASES)
    api = Api(base, api.key, http)

    async def timed_done() -> dict[str, Any] | None:
        task = await api.task(timed)
        return task if task["status"] in TERMINAL else None

    done = await until(timed_done, within_s=30, what="the missed deadline to fire")
    assert (done["status"], done["result"]) == ("completed", "approved by timeout")
    resumed = [e for e in await api.events(timed) if e["type"] == "task_resumed"]
    assert len(resumed) == 1

    still = await api.tasks(waiting)
    assert {task["status"] for task in still.values()} == {"paused"}
    for task_id in waiting:
        reply = await http.post(
            f"{base}/v1/tasks/{task_id}/approve", json={"decided_by": "ana"}, headers=api.headers
        )
        assert reply.status_code == 200, reply.text

    async def all_done() -> dict[str, dict[str, Any]] | None:
        found = await api.tasks(waiting)
        return found if all(t["status"] in TERMINAL for t in found.values()) else None

    final = await until(all_done, within_s=30, what="every approved task terminal")
    assert {task["result"] for task in final.values()} == {"approved by ana"}
    runs = [run for run in await store.node_runs() if run["task_id"] in waiting]
    assert sorted(run["node_id"] for run in runs) == sorted(["ask", "after"] * WAITING)
