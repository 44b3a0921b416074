"""Wait nodes over HTTP: a paused task as clients see it, approve / reject / resume under
/v1 and the xpander-sdk's /hitl routes, and the events a stream shows."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from taskloom.config import Settings
from tests.conftest import DeployWorkflow
from tests.conftest import test_settings as make_settings
from tests.support.waiting import eventually
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.workflows import code_node


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url, egress_allowed_networks=["127.0.0.0/8"], public_url="http://links.example"
    )


def waiting_workflow(kind: str = "hitl") -> dict[str, Any]:
    wait = {
        "id": "ask",
        "type": "wait",
        "name": "ask",
        "definition": {"type": kind, "definition": {"subject": "Refund?", "body": "Check it"}},
        "next_node_ids": ["after"],
    }
    after = (
        "return input['amount'] * 2"
        if kind == "webhook"
        else "return 'decided by ' + input['decided_by']"
    )
    return {"name": "w", "orchestration_nodes": [wait, code_node("after", after)]}


async def start(
    client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str
) -> dict[str, Any]:
    invoked = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        json={"input": {"text": "refund 40 EUR"}},
        headers=headers,
    )
    assert invoked.status_code == 200, invoked.text
    return await settle(client, headers, invoked.json()["id"])


async def settle(client: httpx.AsyncClient, headers: dict[str, str], task_id: str) -> Any:
    reply = await client.get(f"/v1/tasks/{task_id}", params={"wait": 20}, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_a_paused_task_shows_its_request_and_approval_finishes_it(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task = await start(client, headers, await deploy_workflow(waiting_workflow()))

    assert task["status"] == "paused"
    assert task["paused_at"] is not None
    assert task["hitl_request"]["wait_node_id"] == "ask"
    assert task["hitl_request"]["title"] == "Refund?"
    assert task["hitl_request"]["content"] == "refund 40 EUR"

    approved = await client.post(
        f"/v1/tasks/{task['id']}/approve", json={"decided_by": "ana"}, headers=headers
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["hitl_request"] is None
    done = await settle(client, headers, task["id"])
    assert (done["status"], done["result"]) == ("completed", "decided by ana")
    assert done["paused_at"] is None

    events = await client.get(f"/v1/tasks/{task['id']}/events", headers=headers)
    kinds = [
        json.loads(line[len("data: ") :])["type"]
        for line in events.text.splitlines()
        if line.startswith("data: ")
    ]
    assert kinds.index("task_paused") < kinds.index("hitl_requested") < kinds.index("task_resumed")


async def test_the_list_of_paused_tasks_carries_each_request_and_a_decided_one_drops_it(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(waiting_workflow())
    first = await start(client, headers, workflow_id)
    second = await start(client, headers, workflow_id)

    listed = await client.get("/v1/tasks", params={"status": "paused"}, headers=headers)
    assert listed.status_code == 200, listed.text
    items = {item["id"]: item for item in listed.json()["items"]}
    assert set(items) == {first["id"], second["id"]}
    for task in (first, second):
        assert items[task["id"]]["paused_at"] == task["paused_at"]
        assert items[task["id"]]["hitl_request"] == task["hitl_request"]

    approved = await client.post(
        f"/v1/tasks/{first['id']}/approve", json={"decided_by": "ana"}, headers=headers
    )
    assert approved.status_code == 200, approved.text
    await settle(client, headers, first["id"])
    everything = await client.get("/v1/tasks", params={"agent_id": workflow_id}, headers=headers)
    decided = next(i for i in everything.json()["items"] if i["id"] == first["id"])
    assert decided["status"] == "completed"
    assert (decided["paused_at"], decided["hitl_request"]) == (None, None)


async def test_a_rejection_with_no_route_ends_error_rejected_and_a_contrary_one_is_409(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task = await start(client, headers, await deploy_workflow(waiting_workflow()))

    rejected = await client.post(
        f"/v1/tasks/{task['id']}/reject", json={"comment": "no receipt"}, headers=headers
    )
    assert rejected.status_code == 200, rejected.text
    done = await settle(client, headers, task["id"])
    assert (done["status"], done["status_reason"]) == ("error", "rejected")

    again = await client.post(f"/v1/tasks/{task['id']}/reject", headers=headers)
    assert again.status_code == 200
    contrary = await client.post(f"/v1/tasks/{task['id']}/approve", headers=headers)
    assert contrary.status_code == 409
    assert "rejected" in contrary.json()["detail"]


async def test_a_webhook_wait_takes_the_callback_body_as_its_output(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task = await start(client, headers, await deploy_workflow(waiting_workflow("webhook")))
    assert task["status"] == "paused"

    wrong = await client.post(f"/v1/tasks/{task['id']}/approve", headers=headers)
    assert wrong.status_code == 409
    resumed = await client.post(
        f"/v1/tasks/{task['id']}/resume", json={"amount": 21}, headers=headers
    )
    assert resumed.status_code == 200, resumed.text
    done = await settle(client, headers, task["id"])
    assert (done["status"], done["result"]) == ("completed", "42")


@pytest.mark.parametrize("prefix", ["", "/{org}", "/agent-controller/{org}"])
async def test_the_sdk_hitl_routes_approve(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    prefix: str,
) -> None:
    task = await start(client, headers, await deploy_workflow(waiting_workflow()))
    base = prefix.format(org=task["organization_id"])

    approved = await client.post(
        f"{base}/hitl/{task['id']}/approve", json={"decided_by": "sdk"}, headers=headers
    )
    assert approved.status_code == 200, approved.text
    done = await settle(client, headers, task["id"])
    assert done["result"] == "decided by sdk"


async def test_decisions_on_tasks_that_do_not_wait_or_are_not_yours(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    task = await start(client, headers, await deploy_workflow(waiting_workflow()))

    theirs = await client.post(f"/v1/tasks/{task['id']}/approve", headers={"x-api-key": other_key})
    assert theirs.status_code == 404
    bad = await client.post(
        f"/v1/tasks/{task['id']}/approve", json={"decided_by": 7}, headers=headers
    )
    assert bad.status_code == 422
    stopped = await client.post(f"/v1/tasks/{task['id']}/stop", headers=headers)
    assert stopped.json()["status"] == "stopped"
    late = await client.post(f"/v1/tasks/{task['id']}/approve", headers=headers)
    assert late.status_code == 409


async def test_a_wait_notifies_with_links_that_show_a_page_and_decide_on_post(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    with WebhookReceiver() as receiver:
        workflow = waiting_workflow()
        workflow["orchestration_nodes"][0]["definition"]["definition"]["url"] = receiver.url
        task = await start(client, headers, await deploy_workflow(workflow))

        async def told() -> bool:
            return bool(receiver.received)

        await eventually(told)  # the server's own delivery sweep sent it
    approve_url = json.loads(receiver.received[0].body)["data"]["approve_url"]
    assert approve_url.startswith("http://links.example/v1/hitl/links/")
    path = approve_url.removeprefix("http://links.example")

    page = await client.get(path)
    assert page.status_code == 200
    assert "<form method=post>" in page.text
    assert (await settle(client, headers, task["id"]))["status"] == "paused"
    decided = await client.post(path)
    assert decided.status_code == 200, decided.text
    done = await settle(client, headers, task["id"])
    assert (done["status"], done["result"]) == ("completed", "decided by approval link")
    again = await client.post(path)
    assert again.status_code == 409
    unknown = await client.post("/v1/hitl/links/" + "t" * 43 + "/approve")
    assert unknown.status_code == 404


async def test_a_webhook_wait_is_resumed_once_by_its_callback_url_without_a_key(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task = await start(client, headers, await deploy_workflow(waiting_workflow("webhook")))
    url = task["hitl_request"]["callback_url"]
    assert url.startswith("http://links.example/v1/hitl/callbacks/")
    path = url.removeprefix("http://links.example")

    called = await client.post(path, json={"amount": 5})  # no API key: the URL is the key
    assert called.status_code == 200, called.text
    assert called.json()["status"] == "pending"
    done = await settle(client, headers, task["id"])
    assert (done["status"], done["result"]) == ("completed", "10")

    again = await client.post(path, json={"amount": 6})
    assert again.status_code == 409
    unknown = await client.post(path[:-4] + "abcd", json={})
    assert unknown.status_code == 404
    approve = await client.post(
        f"/v1/hitl/links/{path.rsplit('/', 1)[1]}/approve"
    )  # a callback is not an approval link
    assert approve.status_code == 409
