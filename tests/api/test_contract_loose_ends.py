"""Small parts of the contract: Bearer keys, `?version=latest`, the task's output format, the
whole input reaching the first node, and adding and removing workflow nodes."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import DeployWorkflow


def echo_node(node_id: str = "echo", **extra: Any) -> dict[str, Any]:
    code = "def main(data):\n    return {'got': data}\n"
    return {"id": node_id, "type": "code", "definition": {"code": code}, **extra}


async def test_bearer_key_is_accepted_beside_x_api_key(
    client: httpx.AsyncClient, api_key: str
) -> None:
    assert (
        await client.get("/v1/workflows", headers={"Authorization": f"Bearer {api_key}"})
    ).status_code == 200
    assert (
        await client.get("/v1/workflows", headers={"authorization": f"bearer {api_key}"})
    ).status_code == 200
    wrong = await client.get("/v1/workflows", headers={"Authorization": "Bearer not-a-key"})
    assert wrong.status_code == 401
    basic = await client.get("/v1/workflows", headers={"Authorization": f"Basic {api_key}"})
    assert basic.status_code == 401


async def test_bearer_key_is_scoped_to_its_organization(
    client: httpx.AsyncClient, headers: dict[str, str], other_key: str
) -> None:
    created = await client.post("/v1/workflows", json={"name": "mine"}, headers=headers)
    other = {"Authorization": f"Bearer {other_key}"}
    reply = await client.get(f"/v1/workflows/{created.json()['id']}", headers=other)
    assert reply.status_code == 404


async def test_version_latest_runs_the_latest_deployed(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow({"name": "v", "orchestration_nodes": [echo_node()]})
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke?version=latest",
        json={"input": {"text": "x"}},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["agent_version"] == "1"
    bad = await client.post(
        f"/v1/workflows/{workflow_id}/invoke?version=newest",
        json={"input": {"text": "x"}},
        headers=headers,
    )
    assert bad.status_code == 422


async def test_task_output_format_is_the_workflows_unless_the_invoke_says(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(
        {"name": "j", "output_format": "json", "orchestration_nodes": [echo_node()]}
    )
    path = f"/v1/workflows/{workflow_id}/invoke"
    task = (await client.post(path, json={"input": {"text": "x"}}, headers=headers)).json()
    assert task["output_format"] == "json"
    assert json.loads(task["result"]) == {"got": "x"}
    body = {"input": {"text": "x"}, "output_format": "markdown"}
    task = (await client.post(path, json=body, headers=headers)).json()
    assert task["output_format"] == "markdown"
    polled = (await client.get(f"/v1/tasks/{task['id']}", headers=headers)).json()
    assert polled["output_format"] == "markdown"


async def test_the_whole_input_reaches_the_first_node(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(
        {"name": "in", "output_format": "json", "orchestration_nodes": [echo_node()]}
    )
    path = f"/v1/workflows/{workflow_id}/invoke"
    full = {
        "text": "hello",
        "files": ["https://example.com/a.pdf"],
        "user": {"id": "u1", "email": "ada@example.com"},
        "ticket": 42,
    }
    task = (await client.post(path, json={"input": full}, headers=headers)).json()
    assert json.loads(task["result"])["got"] == full
    # text alone stays text, and so does text with the user who sent it
    task = (await client.post(path, json={"input": {"text": "plain"}}, headers=headers)).json()
    assert json.loads(task["result"])["got"] == "plain"
    with_user = {"text": "plain", "user": full["user"]}
    task = (await client.post(path, json={"input": with_user}, headers=headers)).json()
    assert json.loads(task["result"])["got"] == "plain"
    # a first node that takes text gets the text, whatever else comes with it
    text_only = await deploy_workflow(
        {
            "name": "t",
            "output_format": "json",
            "orchestration_nodes": [echo_node(input_type="text")],
        }
    )
    task = (
        await client.post(
            f"/v1/workflows/{text_only}/invoke", json={"input": full}, headers=headers
        )
    ).json()
    assert json.loads(task["result"])["got"] == "hello"


async def test_async_invoke_reply_has_the_trace_fields(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow({"name": "a", "orchestration_nodes": [echo_node()]})
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async", json={"input": {"text": "x"}}, headers=headers
    )
    task = reply.json()
    assert "node_runs" in task
    assert task["sub_executions"] == []


async def test_add_and_remove_nodes_with_deploy(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow({"name": "n", "orchestration_nodes": [echo_node("first")]})
    nodes_path = f"/v1/workflows/{workflow_id}/nodes"
    added = await client.post(
        f"{nodes_path}?deploy=true",
        json={"name": "second", "advanced": echo_node("second")},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["id"] == "second"
    listed = (await client.get(nodes_path, headers=headers)).json()
    assert [(n["id"], n["next_node_ids"]) for n in listed] == [
        ("first", ["second"]),
        ("second", []),
    ]
    workflow = (await client.get(f"/v1/workflows/{workflow_id}", headers=headers)).json()
    assert workflow["version"] == 2
    assert workflow["has_pending_changes"] is False

    dangling = await client.post(
        nodes_path,
        json={"advanced": echo_node("third"), "after_node_ids": ["nope"]},
        headers=headers,
    )
    assert dangling.status_code == 422
    missing_agent = await client.post(nodes_path, json={"agent_id": "no-such"}, headers=headers)
    assert missing_agent.status_code == 422

    removed = await client.delete(f"{nodes_path}/second", headers=headers)
    assert removed.status_code == 200, removed.text
    assert [(n["id"], n["next_node_ids"]) for n in removed.json()] == [("first", [])]
    workflow = (await client.get(f"/v1/workflows/{workflow_id}", headers=headers)).json()
    assert workflow["version"] == 3  # `deploy` defaults to true on removal
    assert (await client.delete(f"{nodes_path}/second", headers=headers)).status_code == 404


async def test_version_latest_on_webhooks_and_schedules(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow({"name": "w", "orchestration_nodes": [echo_node()]})
    hooked = await client.post(
        f"/webhook?agent_id={workflow_id}&agent_version=latest",
        json={"prompt": "x"},
        headers=headers,
    )
    assert hooked.status_code == 200, hooked.text
    assert hooked.json()["status"] == "completed"
    scheduled = await client.post(
        "/v1/schedules",
        json={"target_id": workflow_id, "cron": "0 9 * * *", "version": "latest"},
        headers=headers,
    )
    assert scheduled.status_code == 201, scheduled.text
    assert scheduled.json()["version"] is None
