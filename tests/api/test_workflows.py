"""Workflows through the API: create, read, list, draft edits, deploys, versions, delete, nodes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import DeployWorkflow
from tests.support.workflows import code_node


def constant_workflow(answer: str, *, name: str = "constant") -> dict[str, Any]:
    """One code node that always answers `answer`: tells apart which version ran."""
    return {"name": name, "orchestration_nodes": [code_node("answer", f"return {answer!r}")]}


async def create(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    reply = await client.post("/v1/workflows", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()


async def invoke(
    client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, query: str = ""
) -> httpx.Response:
    return await client.post(
        f"/v1/workflows/{workflow_id}/invoke{query}", json={"input": {"text": "x"}}, headers=headers
    )


async def fetch(client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str) -> Any:
    reply = await client.get(f"/v1/workflows/{workflow_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


# -- create ------------------------------------------------------------------------------


async def test_create_workflow_returns_201_with_contract_fields(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.post("/v1/workflows", json=constant_workflow("a"), headers=headers)
    assert reply.status_code == 201, reply.text
    workflow = reply.json()
    assert isinstance(workflow["id"], str)
    assert workflow["id"]
    assert workflow["name"] == "constant"
    assert workflow["type"] == "orchestration"
    assert workflow["version"] == 0
    assert workflow["has_pending_changes"] is True
    assert workflow["id"] in workflow["webhook_url"]
    assert isinstance(workflow["organization_id"], str)
    assert workflow["organization_id"]


async def test_create_workflow_forces_type_orchestration(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    workflow = await create(client, headers, {**constant_workflow("a"), "type": "regular"})
    assert workflow["type"] == "orchestration"


async def test_create_workflow_keeps_the_given_nodes_and_fields(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = {
        **constant_workflow("a"),
        "description": "does a",
        "output_format": "markdown",
        "expected_output": "the letter a",
    }
    workflow = await create(client, headers, body)
    assert workflow["description"] == "does a"
    assert workflow["output_format"] == "markdown"
    assert workflow["expected_output"] == "the letter a"
    assert [n["id"] for n in workflow["orchestration_nodes"]] == ["answer"]


async def test_create_workflow_ids_are_unique(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    first = await create(client, headers, constant_workflow("a"))
    second = await create(client, headers, constant_workflow("a"))
    assert first["id"] != second["id"]


# -- get ---------------------------------------------------------------------------------


async def test_get_workflow_returns_the_created_workflow(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await create(client, headers, constant_workflow("a", name="getme"))
    found = await fetch(client, headers, created["id"])
    assert found["id"] == created["id"]
    assert found["name"] == "getme"
    assert found["version"] == 0
    assert found["orchestration_nodes"] == created["orchestration_nodes"]


async def test_get_workflow_unknown_id_is_404(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.get("/v1/workflows/no-such-workflow", headers=headers)
    assert reply.status_code == 404
    assert "detail" in reply.json()


# -- list --------------------------------------------------------------------------------


async def test_list_workflows_returns_the_page_envelope(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for i in range(3):
        await create(client, headers, constant_workflow("a", name=f"w{i}"))
    reply = await client.get("/v1/workflows", params={"per_page": 2}, headers=headers)
    assert reply.status_code == 200, reply.text
    page = reply.json()
    assert page["total"] == 3
    assert page["page"] == 1
    assert page["per_page"] == 2
    assert page["total_pages"] == 2
    assert len(page["items"]) == 2


async def test_list_workflows_shows_each_ones_newest_task(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    other_key: str,
) -> None:
    ran = await deploy_workflow(constant_workflow("a", name="ran"))
    idle = await deploy_workflow(constant_workflow("b", name="idle"))
    first = await invoke(client, headers, ran)
    second = await invoke(client, headers, ran)
    assert (first.status_code, second.status_code) == (200, 200)
    theirs = await deploy_workflow_for(client, {"x-api-key": other_key})
    await invoke(client, {"x-api-key": other_key}, theirs)

    page = (await client.get("/v1/workflows", headers=headers)).json()
    last = {item["id"]: item["last_task"] for item in page["items"]}
    assert set(last) == {ran, idle}
    assert last[idle] is None
    assert last[ran]["id"] == second.json()["id"]
    assert last[ran]["status"] == "completed"
    assert last[ran]["created_at"] == second.json()["created_at"]


async def deploy_workflow_for(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    workflow_id: str = (await create(client, headers, constant_workflow("c")))["id"]
    assert (await client.put(f"/v1/workflows/{workflow_id}", headers=headers)).status_code == 200
    return workflow_id


async def test_list_workflows_pages_cover_every_item_once(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = {(await create(client, headers, constant_workflow("a")))["id"] for _ in range(5)}
    seen: list[str] = []
    for page in (1, 2, 3):
        reply = await client.get(
            "/v1/workflows", params={"page": page, "per_page": 2}, headers=headers
        )
        seen += [item["id"] for item in reply.json()["items"]]
    assert sorted(seen) == sorted(created)


async def test_list_workflows_page_past_the_end_is_empty(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await create(client, headers, constant_workflow("a"))
    reply = await client.get("/v1/workflows", params={"page": 5}, headers=headers)
    assert reply.status_code == 200
    assert reply.json()["items"] == []
    assert reply.json()["total"] == 1


async def test_list_workflows_defaults_to_page_1_of_20(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.get("/v1/workflows", headers=headers)
    assert reply.status_code == 200
    page = reply.json()
    assert (page["page"], page["per_page"], page["total"]) == (1, 20, 0)
    assert page["items"] == []


async def test_list_workflows_per_page_over_50_is_422(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.get("/v1/workflows", params={"per_page": 51}, headers=headers)
    assert reply.status_code == 422
    assert isinstance(reply.json()["detail"], list)


async def test_list_workflows_per_page_50_is_accepted(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.get("/v1/workflows", params={"per_page": 50}, headers=headers)
    assert reply.status_code == 200
    assert reply.json()["per_page"] == 50


# -- PATCH: drafts -----------------------------------------------------------------------


async def test_patch_workflow_marks_pending_changes(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(constant_workflow("v1"))
    reply = await client.patch(
        f"/v1/workflows/{workflow_id}",
        json={"orchestration_nodes": constant_workflow("draft")["orchestration_nodes"]},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["has_pending_changes"] is True
    assert reply.json()["version"] == 1
    assert (await fetch(client, headers, workflow_id))["has_pending_changes"] is True


async def test_patch_workflow_invoke_still_runs_the_deployed_version(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(constant_workflow("v1"))
    await client.patch(
        f"/v1/workflows/{workflow_id}",
        json={"orchestration_nodes": constant_workflow("draft")["orchestration_nodes"]},
        headers=headers,
    )
    task = (await invoke(client, headers, workflow_id)).json()
    assert task["status"] == "completed", task
    assert task["result"] == "v1"
    assert task["agent_version"] == "1"


async def test_patch_workflow_returns_the_draft(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(constant_workflow("v1"))
    reply = await client.patch(
        f"/v1/workflows/{workflow_id}", json={"name": "renamed"}, headers=headers
    )
    assert reply.json()["name"] == "renamed"
    assert (await fetch(client, headers, workflow_id))["name"] == "renamed"


async def test_patch_workflow_name_only_keeps_the_nodes(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await create(client, headers, constant_workflow("a"))
    await client.patch(f"/v1/workflows/{created['id']}", json={"name": "b"}, headers=headers)
    found = await fetch(client, headers, created["id"])
    assert found["orchestration_nodes"] == created["orchestration_nodes"]


async def test_patch_workflow_status_is_stored(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await create(client, headers, constant_workflow("a"))
    reply = await client.patch(
        f"/v1/workflows/{created['id']}", json={"status": "INACTIVE"}, headers=headers
    )
    assert reply.status_code == 200, reply.text
    assert (await fetch(client, headers, created["id"]))["status"] == "INACTIVE"


async def test_patch_workflow_cannot_change_the_type(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await create(client, headers, constant_workflow("a"))
    await client.patch(
        f"/v1/workflows/{created['id']}", json={"name": "b", "type": "regular"}, headers=headers
    )
    assert (await fetch(client, headers, created["id"]))["type"] == "orchestration"


async def test_patch_workflow_deploy_true_publishes_a_new_version(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(constant_workflow("v1"))
    reply = await client.patch(
        f"/v1/workflows/{workflow_id}",
        params={"deploy": "true"},
        json={"orchestration_nodes": constant_workflow("v2")["orchestration_nodes"]},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["version"] == 2
    assert reply.json()["has_pending_changes"] is False


async def test_patch_workflow_deploy_true_invoke_runs_the_new_version(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(constant_workflow("v1"))
    await client.patch(
        f"/v1/workflows/{workflow_id}?deploy=true",
        json={"orchestration_nodes": constant_workflow("v2")["orchestration_nodes"]},
        headers=headers,
    )
    task = (await invoke(client, headers, workflow_id)).json()
    assert task["result"] == "v2"
    assert task["agent_version"] == "2"


# -- PUT: deploy -------------------------------------------------------------------------


async def test_put_workflow_deploys_version_1(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await create(client, headers, constant_workflow("a"))
    reply = await client.put(f"/v1/workflows/{created['id']}", headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.json()["version"] == 1
    assert reply.json()["has_pending_changes"] is False


async def test_put_workflow_increments_the_version(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(constant_workflow("v1"))
    await client.patch(
        f"/v1/workflows/{workflow_id}",
        json={"orchestration_nodes": constant_workflow("v2")["orchestration_nodes"]},
        headers=headers,
    )
    reply = await client.put(f"/v1/workflows/{workflow_id}", headers=headers)
    assert reply.json()["version"] == 2
    assert reply.json()["has_pending_changes"] is False
    assert (await fetch(client, headers, workflow_id))["version"] == 2


async def test_put_workflow_concurrent_deploys_each_publish_a_version(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await create(client, headers, constant_workflow("a"))
    replies = await asyncio.gather(
        *(client.put(f"/v1/workflows/{created['id']}", headers=headers) for _ in range(5))
    )
    assert [reply.status_code for reply in replies] == [200] * 5, [r.text for r in replies]
    assert sorted(reply.json()["version"] for reply in replies) == [1, 2, 3, 4, 5]
    assert (await fetch(client, headers, created["id"]))["version"] == 5


async def test_put_workflow_unknown_id_is_404(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.put("/v1/workflows/no-such-workflow", headers=headers)
    assert reply.status_code == 404


# -- versions on invoke ------------------------------------------------------------------


async def test_invoke_version_1_runs_the_old_snapshot_after_a_newer_deploy(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(constant_workflow("v1"))
    await client.patch(
        f"/v1/workflows/{workflow_id}?deploy=true",
        json={"orchestration_nodes": constant_workflow("v2")["orchestration_nodes"]},
        headers=headers,
    )
    task = (await invoke(client, headers, workflow_id, "?version=1")).json()
    assert task["status"] == "completed", task
    assert task["result"] == "v1"
    assert task["agent_version"] == "1"


async def test_invoke_without_version_runs_the_latest_deploy(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(constant_workflow("v1"))
    await client.patch(
        f"/v1/workflows/{workflow_id}?deploy=true",
        json={"orchestration_nodes": constant_workflow("v2")["orchestration_nodes"]},
        headers=headers,
    )
    await client.patch(
        f"/v1/workflows/{workflow_id}",
        json={"orchestration_nodes": constant_workflow("draft")["orchestration_nodes"]},
        headers=headers,
    )
    task = (await invoke(client, headers, workflow_id)).json()
    assert task["result"] == "v2"


async def test_invoke_unknown_version_is_404(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(constant_workflow("v1"))
    reply = await invoke(client, headers, workflow_id, "?version=2")
    assert reply.status_code == 404
    assert "detail" in reply.json()


async def test_invoke_never_deployed_workflow_is_409(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await create(client, headers, constant_workflow("a"))
    reply = await invoke(client, headers, created["id"])
    assert reply.status_code == 409
    assert "detail" in reply.json()


async def test_invoke_async_never_deployed_workflow_is_409(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await create(client, headers, constant_workflow("a"))
    reply = await client.post(
        f"/v1/workflows/{created['id']}/invoke/async",
        json={"input": {"text": "x"}},
        headers=headers,
    )
    assert reply.status_code == 409


async def test_invoke_never_deployed_workflow_creates_no_task(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await create(client, headers, constant_workflow("a"))
    await invoke(client, headers, created["id"])
    tasks = (await client.get("/v1/tasks", headers=headers)).json()
    assert tasks["total"] == 0


async def test_invoke_unknown_workflow_is_404(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await invoke(client, headers, "no-such-workflow")
    assert reply.status_code == 404


# -- delete ------------------------------------------------------------------------------


async def test_delete_workflow_returns_202_then_get_is_404(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(constant_workflow("v1"))
    reply = await client.delete(f"/v1/workflows/{workflow_id}", headers=headers)
    assert reply.status_code == 202, reply.text
    assert (await client.get(f"/v1/workflows/{workflow_id}", headers=headers)).status_code == 404


async def test_delete_workflow_then_invoke_is_404(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(constant_workflow("v1"))
    await client.delete(f"/v1/workflows/{workflow_id}", headers=headers)
    assert (await invoke(client, headers, workflow_id)).status_code == 404


async def test_delete_workflow_removes_it_from_the_list(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    kept = await create(client, headers, constant_workflow("a"))
    gone = await create(client, headers, constant_workflow("b"))
    await client.delete(f"/v1/workflows/{gone['id']}", headers=headers)
    page = (await client.get("/v1/workflows", headers=headers)).json()
    assert [item["id"] for item in page["items"]] == [kept["id"]]
    assert page["total"] == 1


async def test_delete_workflow_twice_is_404(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await create(client, headers, constant_workflow("a"))
    await client.delete(f"/v1/workflows/{created['id']}", headers=headers)
    reply = await client.delete(f"/v1/workflows/{created['id']}", headers=headers)
    assert reply.status_code == 404


# -- nodes -------------------------------------------------------------------------------


async def test_list_nodes_returns_the_simplified_shape(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = {
        "name": "two",
        "orchestration_nodes": [
            code_node("first", "return input", next_ids=["second"], name="First"),
            code_node("second", "return input"),
        ],
    }
    created = await create(client, headers, body)
    reply = await client.get(f"/v1/workflows/{created['id']}/nodes", headers=headers)
    assert reply.status_code == 200, reply.text
    nodes = reply.json()
    assert isinstance(nodes, list)
    assert [node["id"] for node in nodes] == ["first", "second"]
    keys = {
        "id",
        "type",
        "name",
        "next_node_ids",
        "asset_id",
        "connection_id",
        "operation_id",
        "target_agent_id",
    }
    assert all(keys <= set(node) for node in nodes)
    assert nodes[0]["type"] == "code"
    assert nodes[0]["name"] == "First"
    assert nodes[0]["next_node_ids"] == ["second"]
    assert nodes[1]["next_node_ids"] == []


async def test_list_nodes_unknown_workflow_is_404(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.get("/v1/workflows/no-such-workflow/nodes", headers=headers)
    assert reply.status_code == 404
