"""Invoking a deployed workflow: sync, async + poll, versions, node trace."""

from __future__ import annotations

import json

import httpx

from tests.conftest import DeployWorkflow
from tests.support.waiting import eventually
from tests.support.workflows import w1, w3


async def test_invoke_sync_w1_completes_with_json_result(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "hello 7"}}, headers=headers
    )
    assert reply.status_code == 200, reply.text
    task = reply.json()
    assert task["status"] == "completed"
    assert json.loads(task["result"]) == {"text": "HELLO 7 world", "chars": 13}
    assert task["agent_id"] == workflow_id
    assert task["agent_version"] == "1"
    assert task["source"] == "api"
    assert task["last_executed_node_id"] == "count"
    assert task["finished_at"] is not None


async def test_invoke_async_returns_pending_then_polls_to_completed(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        json={"input": {"text": "hi"}},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "pending"
    assert reply.json()["result"] is None
    task_id = reply.json()["id"]

    async def finished() -> dict[str, object] | None:
        task = (await client.get(f"/v1/tasks/{task_id}", headers=headers)).json()
        return task if task["status"] == "completed" else None

    task = await eventually(finished)
    assert json.loads(str(task["result"]))["chars"] == len("hi") + 6
    trace = task["node_runs"]
    assert [run["node_id"] for run in trace] == ["upper", "append", "count"]
    assert all(run["status"] == "completed" and run["attempt"] == 1 for run in trace)


async def test_invoke_w3_fans_out_and_joins(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w3())
    text = "hello 12"
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": text}}, headers=headers
    )
    task = reply.json()
    assert task["status"] == "completed", task
    assert json.loads(task["result"]) == {"sum": 20 * len(text) + 190}
