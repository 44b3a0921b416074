"""A polled task's trace (`node_runs` in GET /v1/tasks/{id}) is read once and then extended
with the runs recorded since (api/views.py): after every change it must still be the whole
trace, in order, each run once, as the trace route reads it afresh."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.test_waits import settle, start
from tests.conftest import DeployWorkflow
from tests.support.workflows import code_node


def wait_node(node_id: str, next_id: str) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "wait",
        "name": node_id,
        "definition": {"type": "hitl", "definition": {"subject": "Go on?", "body": "Check"}},
        "next_node_ids": [next_id],
    }


def two_waits() -> dict[str, Any]:
    return {
        "name": "w",
        "orchestration_nodes": [
            code_node("before", "return input", next_ids=["ask"]),
            wait_node("ask", "middle"),
            code_node("middle", "return input", next_ids=["again"]),
            wait_node("again", "after"),
            code_node("after", "return 'done'"),
        ],
    }


def runs_of(task: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(run["node_id"], run["step"], run["finished_at"]) for run in task["node_runs"]]


async def full_trace(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: str
) -> list[tuple[str, str, str]]:
    reply = await client.get(f"/v1/tasks/{task_id}/trace", headers=headers)
    assert reply.status_code == 200, reply.text
    return runs_of(reply.json())


async def approve_and_settle(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: str
) -> dict[str, Any]:
    approved = await client.post(
        f"/v1/tasks/{task_id}/approve", json={"decided_by": "ana"}, headers=headers
    )
    assert approved.status_code == 200, approved.text
    settled: dict[str, Any] = await settle(client, headers, task_id)
    return settled


async def test_a_polled_trace_grows_by_the_runs_recorded_since_the_last_poll(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task = await start(client, headers, await deploy_workflow(two_waits()))
    assert (task["status"], [node for node, _, _ in runs_of(task)]) == ("paused", ["before"])

    # each change is rendered on top of the trace the render before it read
    seen = [["before", "ask", "middle"], ["before", "ask", "middle", "again", "after"]]
    for status, nodes in zip(("paused", "completed"), seen, strict=True):
        settled = await approve_and_settle(client, headers, task["id"])
        assert (settled["status"], [node for node, _, _ in runs_of(settled)]) == (status, nodes)
        polled = await client.get(f"/v1/tasks/{task['id']}", headers=headers)
        assert polled.json() == settled
        assert runs_of(settled) == await full_trace(client, headers, task["id"])
