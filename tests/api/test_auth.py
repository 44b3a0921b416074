"""API keys and tenancy: who may call, and what one organization can see of another."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import DeployWorkflow
from tests.support.workflows import code_node, w1

ROUTES = [
    ("GET", "/v1/workflows"),
    ("POST", "/v1/workflows"),
    ("GET", "/v1/workflows/some-id"),
    ("PATCH", "/v1/workflows/some-id"),
    ("PUT", "/v1/workflows/some-id"),
    ("DELETE", "/v1/workflows/some-id"),
    ("GET", "/v1/workflows/some-id/nodes"),
    ("POST", "/v1/workflows/some-id/invoke"),
    ("POST", "/v1/workflows/some-id/invoke/async"),
    ("GET", "/v1/tasks"),
    ("GET", "/v1/tasks/some-id"),
    ("POST", "/v1/tasks/some-id/stop"),
    ("DELETE", "/v1/tasks/some-id"),
]
BODIES: dict[str, Any] = {
    "/v1/workflows": {"name": "w"},
    "/v1/workflows/some-id": {"name": "w"},
    "/v1/workflows/some-id/invoke": {"input": {"text": "x"}},
    "/v1/workflows/some-id/invoke/async": {"input": {"text": "x"}},
}


async def call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    body = BODIES.get(path) if method in ("POST", "PATCH") else None
    return await client.request(method, path, json=body, headers=headers)


async def deployed_and_run(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> tuple[str, dict[str, Any]]:
    """acme's deployed w1 and a completed task of it."""
    workflow_id = await deploy_workflow(w1())
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "hi"}}, headers=headers
    )
    assert reply.status_code == 200, reply.text
    return workflow_id, reply.json()


# -- keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_request_without_key_is_401(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    reply = await call(client, method, path, {})
    assert reply.status_code == 401
    assert isinstance(reply.json()["detail"], str)


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_request_with_unknown_key_is_401(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    reply = await call(client, method, path, {"x-api-key": "not-a-real-key"})
    assert reply.status_code == 401
    assert isinstance(reply.json()["detail"], str)


async def test_request_with_empty_key_is_401(client: httpx.AsyncClient) -> None:
    reply = await client.get("/v1/workflows", headers={"x-api-key": ""})
    assert reply.status_code == 401
    assert "detail" in reply.json()


async def test_request_with_key_in_another_header_is_401(
    client: httpx.AsyncClient, api_key: str
) -> None:
    reply = await client.get("/v1/workflows", headers={"x-api-token": api_key})
    assert reply.status_code == 401


async def test_request_with_valid_key_is_200(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    assert (await client.get("/v1/workflows", headers=headers)).status_code == 200


async def test_unauthenticated_create_stores_nothing(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await client.post("/v1/workflows", json={"name": "w"}, headers={"x-api-key": "nope"})
    assert (await client.get("/v1/workflows", headers=headers)).json()["total"] == 0


async def test_health_needs_no_key(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).status_code == 200


# -- another organization's workflow ------------------------------------------------------


async def test_get_workflow__other_org_is_not_found(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    workflow_id = await deploy_workflow(w1())
    reply = await client.get(f"/v1/workflows/{workflow_id}", headers={"x-api-key": other_key})
    assert reply.status_code == 404


async def test_list_nodes__other_org_is_not_found(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    workflow_id = await deploy_workflow(w1())
    reply = await client.get(f"/v1/workflows/{workflow_id}/nodes", headers={"x-api-key": other_key})
    assert reply.status_code == 404


async def test_patch_workflow__other_org_is_not_found_and_changes_nothing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    workflow_id = await deploy_workflow(w1())
    before = (await client.get(f"/v1/workflows/{workflow_id}", headers=headers)).json()
    reply = await client.patch(
        f"/v1/workflows/{workflow_id}?deploy=true",
        json={"name": "hijacked", "orchestration_nodes": [code_node("x", "return 'pwned'")]},
        headers={"x-api-key": other_key},
    )
    assert reply.status_code == 404
    after = (await client.get(f"/v1/workflows/{workflow_id}", headers=headers)).json()
    assert after == before


async def test_deploy_workflow__other_org_is_not_found_and_changes_nothing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    workflow_id = await deploy_workflow(w1())
    reply = await client.put(f"/v1/workflows/{workflow_id}", headers={"x-api-key": other_key})
    assert reply.status_code == 404
    found = (await client.get(f"/v1/workflows/{workflow_id}", headers=headers)).json()
    assert found["version"] == 1


async def test_delete_workflow__other_org_is_not_found_and_keeps_it(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    workflow_id = await deploy_workflow(w1())
    reply = await client.delete(f"/v1/workflows/{workflow_id}", headers={"x-api-key": other_key})
    assert reply.status_code == 404
    assert (await client.get(f"/v1/workflows/{workflow_id}", headers=headers)).status_code == 200


@pytest.mark.parametrize("route", ["invoke", "invoke/async"])
async def test_invoke_workflow__other_org_is_not_found(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
    route: str,
) -> None:
    workflow_id = await deploy_workflow(w1())
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/{route}",
        json={"input": {"text": "x"}},
        headers={"x-api-key": other_key},
    )
    assert reply.status_code == 404
    assert (await client.get("/v1/tasks", headers=headers)).json()["total"] == 0


async def test_list_workflows__shows_only_own_org(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    mine = await deploy_workflow(w1())
    other = {"x-api-key": other_key}
    theirs = (await client.post("/v1/workflows", json={"name": "theirs"}, headers=other)).json()
    acme = (await client.get("/v1/workflows", headers=headers)).json()
    globex = (await client.get("/v1/workflows", headers=other)).json()
    assert [item["id"] for item in acme["items"]] == [mine]
    assert acme["total"] == 1
    assert [item["id"] for item in globex["items"]] == [theirs["id"]]
    assert globex["total"] == 1


async def test_create_workflow__belongs_to_the_callers_org(
    client: httpx.AsyncClient, headers: dict[str, str], other_key: str
) -> None:
    acme = (await client.post("/v1/workflows", json={"name": "a"}, headers=headers)).json()
    globex = (
        await client.post("/v1/workflows", json={"name": "g"}, headers={"x-api-key": other_key})
    ).json()
    assert acme["organization_id"] != globex["organization_id"]


async def test_create_workflow__ignores_an_organization_id_in_the_body(
    client: httpx.AsyncClient, headers: dict[str, str], other_key: str
) -> None:
    globex = (
        await client.post("/v1/workflows", json={"name": "g"}, headers={"x-api-key": other_key})
    ).json()
    body = {"name": "a", "organization_id": globex["organization_id"]}
    acme = (await client.post("/v1/workflows", json=body, headers=headers)).json()
    assert acme["organization_id"] != globex["organization_id"]
    listed = (await client.get("/v1/workflows", headers={"x-api-key": other_key})).json()
    assert [item["id"] for item in listed["items"]] == [globex["id"]]


# -- another organization's task -----------------------------------------------------------


async def test_get_task__other_org_is_not_found(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    _, task = await deployed_and_run(client, headers, deploy_workflow)
    reply = await client.get(f"/v1/tasks/{task['id']}", headers={"x-api-key": other_key})
    assert reply.status_code == 404


async def test_stop_task__other_org_is_not_found(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    _, task = await deployed_and_run(client, headers, deploy_workflow)
    reply = await client.post(f"/v1/tasks/{task['id']}/stop", headers={"x-api-key": other_key})
    assert reply.status_code == 404


async def test_stop_running_task__other_org_does_not_stop_it(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    workflow_id = await deploy_workflow(
        {
            "name": "slow",
            "orchestration_nodes": [code_node("nap", "import time\ntime.sleep(1)\nreturn 'slept'")],
        }
    )
    started = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        json={"input": {"text": "x"}},
        headers=headers,
    )
    task_id = started.json()["id"]
    reply = await client.post(f"/v1/tasks/{task_id}/stop", headers={"x-api-key": other_key})
    assert reply.status_code == 404
    # the owner's sync view: it still finishes normally
    done = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "x"}}, headers=headers
    )
    assert done.json()["status"] == "completed"
    # both ran at once: ours may end a moment after the other one
    task = (await client.get(f"/v1/tasks/{task_id}?wait=30", headers=headers)).json()
    assert task["status"] == "completed"
    assert task["is_manually_stopped"] is False


async def test_delete_task__other_org_is_not_found_and_keeps_it(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    _, task = await deployed_and_run(client, headers, deploy_workflow)
    reply = await client.delete(f"/v1/tasks/{task['id']}", headers={"x-api-key": other_key})
    assert reply.status_code == 404
    assert (await client.get(f"/v1/tasks/{task['id']}", headers=headers)).status_code == 200


async def test_list_tasks__shows_only_own_org(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    await deployed_and_run(client, headers, deploy_workflow)
    page = (await client.get("/v1/tasks", headers={"x-api-key": other_key})).json()
    assert page["items"] == []
    assert page["total"] == 0


async def test_list_tasks__filter_by_other_orgs_workflow_is_empty(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    workflow_id, _ = await deployed_and_run(client, headers, deploy_workflow)
    page = (
        await client.get(
            "/v1/tasks", params={"agent_id": workflow_id}, headers={"x-api-key": other_key}
        )
    ).json()
    assert page["items"] == []


async def test_invoke_reusing_other_orgs_task_id__leaves_their_task_alone(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    _, task = await deployed_and_run(client, headers, deploy_workflow)
    other = {"x-api-key": other_key}
    created = await client.post(
        "/v1/workflows",
        json={"name": "g", "orchestration_nodes": [code_node("x", "return 'globex'")]},
        headers=other,
    )
    theirs = created.json()["id"]
    await client.put(f"/v1/workflows/{theirs}", headers=other)
    reply = await client.post(
        f"/v1/workflows/{theirs}/invoke",
        json={"id": task["id"], "input": {"text": "steal"}},
        headers=other,
    )
    assert 400 <= reply.status_code < 500
    assert reply.json().get("organization_id") is None
    after = (await client.get(f"/v1/tasks/{task['id']}", headers=headers)).json()
    assert after["input"] == task["input"]
    assert after["result"] == task["result"]
    assert after["agent_id"] == task["agent_id"]


INVOKE_ROUTES = ["invoke", "invoke/async", "invoke/stream"]


async def their_deployed_workflow(client: httpx.AsyncClient, other: dict[str, str]) -> str:
    created = await client.post(
        "/v1/workflows",
        json={"name": "g", "orchestration_nodes": [code_node("x", "return 'globex'")]},
        headers=other,
    )
    theirs: str = created.json()["id"]
    assert (await client.put(f"/v1/workflows/{theirs}", headers=other)).status_code == 200
    return theirs


@pytest.mark.parametrize("route", INVOKE_ROUTES)
async def test_invoke_with_other_orgs_task_id__answers_as_for_an_unknown_id(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
    route: str,
) -> None:
    _, task = await deployed_and_run(client, headers, deploy_workflow)
    other = {"x-api-key": other_key}
    theirs = await their_deployed_workflow(client, other)
    unknown = "0f5f4ad4-5c1e-4f0c-9a55-000000000000"

    answers = []
    for task_id in (task["id"], unknown):
        reply = await client.post(
            f"/v1/workflows/{theirs}/{route}",
            json={"id": task_id, "input": {"text": "steal"}},
            headers=other,
        )
        answers.append((reply.status_code, reply.text.replace(task_id, "<id>")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 404, answers
    assert (await client.get("/v1/tasks", headers=other)).json()["total"] == 0


async def test_sdk_create_task_with_other_orgs_task_id__answers_as_for_an_unknown_id(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    _, task = await deployed_and_run(client, headers, deploy_workflow)
    other = {"x-api-key": other_key}
    theirs = await their_deployed_workflow(client, other)
    unknown = "0f5f4ad4-5c1e-4f0c-9a55-000000000000"

    answers = []
    for task_id in (task["id"], unknown):
        reply = await client.post(
            f"/agent-execution/{theirs}",
            json={"id": task_id, "input": {"text": "steal"}},
            headers=other,
        )
        answers.append((reply.status_code, reply.text.replace(task_id, "<id>")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 404, answers
    after = (await client.get(f"/v1/tasks/{task['id']}", headers=headers)).json()
    assert (after["turn"], after["input"]) == (task["turn"], task["input"])
