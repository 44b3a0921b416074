"""The xpander SDK's routes (docs/xpander-sdk.md) over HTTP: bare, under `/{org}` and under
`/agent-controller/{org}`, with the bodies the SDK sends."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import DeployWorkflow
from tests.e2e.sse_client import read_stream
from tests.support.waiting import eventually
from tests.support.workflows import code_node, w1

TERMINAL = {"completed", "error", "failed", "stopped"}


def sdk_create_body(text: str, **fields: Any) -> dict[str, Any]:
    """The body `Tasks.acreate` sends (xpander-sdk 2.0.537): every key, nulls included."""
    body: dict[str, Any] = {
        "id": None,
        "input": {"text": text, "files": [], "user": None},
        "payload_extension": None,
        "source": None,
        "worker_id": None,
        "output_format": None,
        "output_schema": None,
        "run_locally": False,
        "events_streaming": False,
        "additional_context": None,
        "instructions_override": None,
        "test_run_node_id": None,
        "user_oidc_token": None,
        "expected_output": None,
        "mcp_servers": [],
        "triggering_agent_id": None,
        "title": None,
        "think_mode": "default",
        "disable_attachment_injection": False,
        "tool_call_limit": None,
        "user_tokens": None,
        "return_metrics": False,
        "llm_model_provider": None,
        "llm_model_name": None,
        "llm_reasoning_effort": None,
        "harness_cli": None,
        "permission_mode": None,
    }
    body.update(fields)
    return body


def napper(seconds: float) -> dict[str, Any]:
    return {
        "name": "napper",
        "orchestration_nodes": [
            code_node("nap", f"import time\ntime.sleep({seconds})\nreturn input + ' rested'")
        ],
    }


async def create(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    agent_id: str,
    text: str = "hello",
    *,
    prefix: str = "",
    extra_headers: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    reply = await client.post(
        f"{prefix}/agent-execution/{agent_id}",
        json=sdk_create_body(text, **fields),
        headers={**headers, **(extra_headers or {})},
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    task: dict[str, Any] = reply.json()
    return task


async def settled(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: str, prefix: str = ""
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        reply = await client.get(f"{prefix}/agent-execution/{task_id}/status", headers=headers)
        assert reply.status_code == 200, reply.text
        task: dict[str, Any] = reply.json()
        return task if task["status"] in TERMINAL else None

    return await eventually(check, timeout=60)


async def org_of(client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str) -> str:
    task = await create(client, headers, workflow_id)
    org: str = task["organization_id"]
    return org


# -- create, status, prefixes -------------------------------------------------------------


async def test_create_task_runs_the_workflow_and_status_reports_it(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    created = await create(client, headers, workflow_id, "hello", events_streaming=True)

    for field in ("id", "agent_id", "organization_id", "input", "created_at"):
        assert created[field] is not None, field
    assert created["agent_id"] == workflow_id
    assert created["status"] == "pending"
    assert created["source"] == "sdk", "a create without a source is the SDK's"
    assert created["events_streaming"] is True
    done = await settled(client, headers, created["id"])
    assert done["status"] == "completed"
    assert json.loads(done["result"]) == {"text": "HELLO world", "chars": 11}


async def test_create_task__source_as_sent(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    task = await create(client, headers, workflow_id, source="slack")
    assert task["source"] == "slack"


@pytest.mark.parametrize("style", ["org", "agent-controller"])
async def test_routes_under_organization_prefixes(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    style: str,
) -> None:
    workflow_id = await deploy_workflow(w1())
    org = await org_of(client, headers, workflow_id)
    prefix = f"/{org}" if style == "org" else f"/agent-controller/{org}"

    task = await create(client, headers, workflow_id, "hi", prefix=prefix)
    done = await settled(client, headers, task["id"], prefix=prefix)
    history = await client.get(
        f"{prefix}/agent-execution/executions/history/{workflow_id}", headers=headers
    )

    assert done["status"] == "completed"
    assert history.status_code == 200, history.text
    assert task["id"] in [item["id"] for item in history.json()]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/agent-execution/{task}/status"),
        ("PATCH", "/agent-execution/{task}/update"),
        ("DELETE", "/agent-execution/{task}"),
        ("GET", "/agent-execution/{task}/events"),
        ("POST", "/agent-execution/{task}/events/push"),
        ("GET", "/agent-execution/executions/history/{workflow}"),
        ("POST", "/agent-execution/{workflow}"),
        ("GET", "/agents/{workflow}"),
    ],
)
async def test_other_organization_segment_is_not_found(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    method: str,
    path: str,
) -> None:
    workflow_id = await deploy_workflow(w1())
    task = await create(client, headers, workflow_id)
    url = path.format(task=task["id"], workflow=workflow_id)
    body: Any = {"PATCH": {}, "POST": []}.get(method)
    if path == "/agent-execution/{workflow}":
        body = sdk_create_body("x")
    for prefix in (f"/{uuid.uuid4()}", f"/agent-controller/{uuid.uuid4()}"):
        reply = await client.request(method, prefix + url, headers=headers, json=body)
        assert reply.status_code == 404, (prefix + url, reply.text)
        assert reply.headers["content-type"].startswith("application/json")


async def test_task_of_another_organization_is_not_found(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    workflow_id = await deploy_workflow(w1())
    task = await create(client, headers, workflow_id)
    other = {"x-api-key": other_key}
    for method, url in [
        ("GET", f"/agent-execution/{task['id']}/status"),
        ("DELETE", f"/agent-execution/{task['id']}"),
        ("GET", f"/agents/{workflow_id}"),
        ("GET", f"/activity/{workflow_id}/{task['id']}"),
    ]:
        reply = await client.request(method, url, headers=other)
        assert reply.status_code == 404, (url, reply.text)
    patch = await client.patch(
        f"/agent-execution/{task['id']}/update", json={"title": "x"}, headers=other
    )
    assert patch.status_code == 404
    listed = await client.get(f"/agent-execution/executions/history/{workflow_id}", headers=other)
    assert listed.json() == []


async def test_routes_without_key_are_unauthenticated(client: httpx.AsyncClient) -> None:
    reply = await client.get(f"/agent-execution/{uuid.uuid4()}/status")
    assert reply.status_code == 401
    assert reply.json() == {"detail": "missing x-api-key header"}


async def test_create_continues_task_with_its_id(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    first = await create(client, headers, workflow_id, "one")
    await settled(client, headers, first["id"])

    second = await create(client, headers, workflow_id, "two", id=first["id"])
    done = await settled(client, headers, first["id"])

    assert second["id"] == first["id"]
    assert second["turn"] == 2
    assert done["input"]["text"] == "two"
    assert json.loads(done["result"]) == {"text": "TWO world", "chars": 9}


@pytest.mark.parametrize(
    ("header", "status"),
    [("1", 200), ("", 200), ("  ", 200), ("7", 404), ("latest", 200), ("0", 422)],
)
async def test_create_task_x_agent_version(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    header: str,
    status: int,
) -> None:
    workflow_id = await deploy_workflow(w1())
    reply = await client.post(
        f"/agent-execution/{workflow_id}",
        json=sdk_create_body("x"),
        headers={**headers, "x-agent-version": header},
    )
    assert reply.status_code == status, reply.text
    if status == 200:
        assert reply.json()["agent_version"] == "1"


@pytest.mark.parametrize(
    "body",
    [
        {"input": "not an object"},
        {"input": {"text": 5}},
        {"input": {"text": "x"}, "think_mode": "sideways"},
        [],
    ],
)
async def test_create_task_bad_body_is_422(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    body: Any,
) -> None:
    workflow_id = await deploy_workflow(w1())
    reply = await client.post(f"/agent-execution/{workflow_id}", json=body, headers=headers)
    assert reply.status_code == 422, reply.text
    assert isinstance(reply.json()["detail"], list)


async def test_create_task_on_unknown_agent_is_not_found(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.post(
        f"/agent-execution/{uuid.uuid4()}", json=sdk_create_body("x"), headers=headers
    )
    assert reply.status_code == 404, reply.text


# -- update -------------------------------------------------------------------------------


async def test_update_partial_changes_what_clients_own(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    task = await create(client, headers, workflow_id, payload_extension={"a": 1})
    done = await settled(client, headers, task["id"])

    reply = await client.patch(
        f"/agent-execution/{task['id']}/update",
        json={
            "tool_call_payload_extension": {"b": 2},
            "internal_status": "reviewed",
            "title": "Greeting",
            "status": done["status"],
            "result": done["result"],
            "source": "ignored: set at creation",
            "last_executed_node_id": "ignored",
        },
        headers=headers,
    )

    assert reply.status_code == 200, reply.text
    updated = reply.json()
    assert updated["payload_extension"] == {"a": 1, "b": 2}
    assert updated["internal_status"] == "reviewed"
    assert updated["title"] == "Greeting"
    assert updated["source"] == "sdk"
    assert updated["last_executed_node_id"] == done["last_executed_node_id"]
    polled = await settled(client, headers, task["id"])
    assert {k: v for k, v in polled.items() if k != "node_runs"} == updated

    # the conversation's next turn keeps what clients set on the task
    await create(client, headers, workflow_id, id=task["id"])
    next_turn = await settled(client, headers, task["id"])
    assert next_turn["turn"] == 2
    assert next_turn["internal_status"] == "reviewed"
    assert next_turn["title"] == "Greeting"


async def test_update_full_task_dump_is_accepted(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    task = await create(client, headers, workflow_id)
    done = await settled(client, headers, task["id"])
    # what `task.asave()` sends: its whole local model, fields the server never sent included
    dump = {**done, "title": "Saved", "conversation_id": None, "used_tools": [], "duration": 0}

    reply = await client.patch(f"/agent-execution/{task['id']}/update", json=dump, headers=headers)

    assert reply.status_code == 200, reply.text
    assert reply.json()["title"] == "Saved"
    assert reply.json()["status"] == "completed"


async def test_update_publishes_task_updated_on_the_stream(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    task = await create(client, headers, workflow_id)
    await settled(client, headers, task["id"])
    before = await read_stream(
        client, "GET", f"/agent-execution/{task['id']}/events", headers=headers
    )

    await client.patch(
        f"/agent-execution/{task['id']}/update",
        json={"internal_status": "filed"},
        headers=headers,
    )
    after = await read_stream(
        client, "GET", f"/agent-execution/{task['id']}/events", headers=headers
    )

    assert after.events[: len(before.events)] == before.events
    [last] = after.events[len(before.events) :]
    assert last.type == "task_updated"
    assert last.id == before.ids[-1] + 1
    assert last.data["internal_status"] == "filed"


async def test_update_without_change_publishes_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    task = await create(client, headers, workflow_id)
    done = await settled(client, headers, task["id"])
    before = await read_stream(
        client, "GET", f"/agent-execution/{task['id']}/events", headers=headers
    )

    reply = await client.patch(f"/agent-execution/{task['id']}/update", json=done, headers=headers)
    after = await read_stream(
        client, "GET", f"/agent-execution/{task['id']}/events", headers=headers
    )

    assert reply.status_code == 200
    assert after.ids == before.ids


@pytest.mark.parametrize(
    "change",
    [{"status": "executing"}, {"status": "stopped"}, {"result": "forged"}],
    ids=["executing", "stopped", "result"],
)
async def test_update_status_or_result_of_an_engine_task_is_conflict(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    change: dict[str, str],
) -> None:
    workflow_id = await deploy_workflow(w1())
    task = await create(client, headers, workflow_id)
    await settled(client, headers, task["id"])

    reply = await client.patch(
        f"/agent-execution/{task['id']}/update", json=change, headers=headers
    )

    assert reply.status_code == 409, reply.text
    assert isinstance(reply.json()["detail"], str)
    polled = await settled(client, headers, task["id"])
    assert polled["status"] == "completed"
    assert polled["result"] != "forged"


@pytest.mark.parametrize(
    "body",
    [{"status": "sideways"}, {"internal_status": "x" * 256}, {"payload_extension": [1]}, []],
)
async def test_update_bad_body_is_422(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    body: Any,
) -> None:
    workflow_id = await deploy_workflow(w1())
    task = await create(client, headers, workflow_id)
    reply = await client.patch(f"/agent-execution/{task['id']}/update", json=body, headers=headers)
    assert reply.status_code == 422, reply.text


async def test_update_unknown_task_is_not_found(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.patch(
        f"/agent-execution/{uuid.uuid4()}/update", json={"title": "x"}, headers=headers
    )
    assert reply.status_code == 404


# -- stop ---------------------------------------------------------------------------------


async def test_delete_stops_the_task(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(napper(30))
    task = await create(client, headers, workflow_id)

    reply = await client.delete(f"/agent-execution/{task['id']}", headers=headers)

    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "stopped"
    assert reply.json()["is_manually_stopped"] is True
    polled = await settled(client, headers, task["id"])
    assert polled["status"] == "stopped"


# -- history ------------------------------------------------------------------------------


async def test_history_lists_tasks_newest_first_with_filters(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    ann = {"email": "ann@example.com", "id": "ann"}
    first = await create(
        client, headers, workflow_id, "a", input={"text": "a", "files": [], "user": ann}
    )
    second = await create(client, headers, workflow_id, "b", triggering_agent_id="boss")
    await settled(client, headers, first["id"])
    await settled(client, headers, second["id"])
    await client.patch(
        f"/agent-execution/{first['id']}/update",
        json={"internal_status": "triaged"},
        headers=headers,
    )

    async def ids(path: str, **query: str) -> list[str]:
        reply = await client.get(path, params=query, headers=headers)
        assert reply.status_code == 200, reply.text
        assert isinstance(reply.json(), list), "the SDK reads a bare array"
        return [item["id"] for item in reply.json()]

    history = f"/agent-execution/executions/history/{workflow_id}"
    assert await ids(history) == [second["id"], first["id"]]
    assert await ids(history, user_id="ann") == [first["id"]]
    assert await ids(history, triggering_agent_id="boss") == [second["id"]]
    assert await ids(history, internal_status="triaged") == [first["id"]]
    assert await ids(history, status="completed") == [second["id"], first["id"]]
    assert await ids(history, status="pending") == []
    assert await ids(history, per_page="1", page="2") == [first["id"]]
    assert await ids("/agent-execution/executions/history/user/ann") == [first["id"]]
    item = (await client.get(history, headers=headers)).json()[0]
    assert {"id", "agent_id", "organization_id", "status", "created_at"} <= item.keys()
    bad = await client.get(history, params={"status": "sideways"}, headers=headers)
    assert bad.status_code == 422


# -- events -------------------------------------------------------------------------------


async def test_events_stream_the_current_turn_and_end_after_task_finished(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    task = await create(client, headers, workflow_id, "one", events_streaming=True)
    await settled(client, headers, task["id"])
    await create(client, headers, workflow_id, "two", id=task["id"])
    await settled(client, headers, task["id"])
    org = task["organization_id"]

    stream = await read_stream(
        client, "GET", f"/{org}/agent-execution/{task['id']}/events", headers=headers
    )

    assert stream.status_code == 200, stream.body
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.closed_by_server
    assert stream.types[0] == "task_created"
    assert stream.types[-1] == "task_finished"
    assert stream.events[0].data["turn"] == 2, "the stream follows the task's current turn"
    assert stream.types.count("task_finished") == 1
    assert not {"node_started", "node_finished"} & set(stream.types), (
        "taskloom's node events are not among the SDK's event types"
    )


async def test_events_of_unknown_task_is_not_found(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.get(f"/agent-execution/{uuid.uuid4()}/events", headers=headers)
    assert reply.status_code == 404


async def test_pushed_events_appear_on_the_stream(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(napper(0.5))
    task = await create(client, headers, workflow_id, events_streaming=True)
    org = task["organization_id"]
    pushed = [
        {
            "type": "tool_call_request",
            "task_id": task["id"],
            "organization_id": org,
            "time": "2026-03-23T00:46:03.782693Z",
            "data": {"request_id": "r1", "tool_name": "search", "payload": {"q": "x"}},
        },
        {"type": "think", "task_id": task["id"], "data": {"tool_name": "think"}},
    ]

    reply = await client.post(
        f"/agent-execution/{task['id']}/events/push", json=pushed, headers=headers
    )
    stream = await read_stream(
        client, "GET", f"/{org}/agent-execution/{task['id']}/events", headers=headers
    )

    assert reply.status_code == 200, reply.text
    assert reply.json() == {"task_id": task["id"], "accepted": 2}
    assert stream.types[-1] == "task_finished"
    tool_call = stream.events[stream.types.index("tool_call_request")]
    assert tool_call.data == pushed[0]["data"]
    assert tool_call.task_id == task["id"]
    assert tool_call.organization_id == org
    assert "think" in stream.types


@pytest.mark.parametrize(
    "events",
    [
        [{"type": "task_finished", "data": {}}],
        [{"type": "node_started", "data": {}}],
        [{"type": "chunk", "task_id": "another-task", "data": "x"}],
        [{"type": "Not A Type", "data": {}}],
        [{"data": "no type"}],
        [{"type": "chunk", "data": "x"}] * 101,
        [{"type": "chunk", "data": "x" * 300_000}],
        {"type": "chunk", "data": "not an array"},
    ],
    ids=[
        "reserved",
        "node-event",
        "other-task",
        "bad-type",
        "no-type",
        "too-many",
        "too-big",
        "not-array",
    ],
)
async def test_push_junk_is_422(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    events: Any,
) -> None:
    workflow_id = await deploy_workflow(w1())
    task = await create(client, headers, workflow_id)
    reply = await client.post(
        f"/agent-execution/{task['id']}/events/push", json=events, headers=headers
    )
    assert reply.status_code == 422, reply.text


async def test_push_to_unknown_task_is_not_found(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.post(
        f"/agent-execution/{uuid.uuid4()}/events/push",
        json=[{"type": "chunk", "data": "x"}],
        headers=headers,
    )
    assert reply.status_code == 404


# -- metrics, activity, agents ------------------------------------------------------------


async def test_metrics_report_is_accepted(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    agent_id = str(uuid.uuid4())
    reply = await client.post(
        f"/agents-metrics/{agent_id}/execution",
        json={"execution_id": "t", "source": "sdk", "status": "completed", "duration": 1.5},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json() == {"agent_id": agent_id, "accepted": True}


async def test_activity_lists_each_turn_input_and_result(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    task = await create(client, headers, workflow_id, "hey")
    await settled(client, headers, task["id"])

    reply = await client.get(f"/activity/{workflow_id}/{task['id']}", headers=headers)
    wrong_agent = await client.get(f"/activity/{uuid.uuid4()}/{task['id']}", headers=headers)

    assert reply.status_code == 200, reply.text
    activity = reply.json()
    assert activity["id"] == task["id"]
    assert [m["role"] for m in activity["messages"]] == ["user", "agent"]
    question, answer = activity["messages"]
    assert question["content"]["text"] == "hey"
    assert json.loads(answer["content"]["text"]) == {"text": "HEY world", "chars": 9}
    assert wrong_agent.status_code == 404


async def test_agents_get_and_list_show_workflows_as_agents(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())

    agent = await client.get(f"/agents/{workflow_id}", headers=headers)
    pinned = await client.get(f"/agents/{workflow_id}", headers={**headers, "x-agent-version": "1"})
    missing_version = await client.get(
        f"/agents/{workflow_id}", headers={**headers, "x-agent-version": "9"}
    )
    listed = await client.get("/agents/list", headers=headers)

    assert agent.status_code == 200, agent.text
    body = agent.json()
    required = {"id", "organization_id", "name", "unique_name", "framework"}
    assert required | {"model_provider", "model_name"} <= body.keys()
    assert body["id"] == workflow_id
    assert body["type"] == "orchestration"
    assert body["graph"] == []
    assert body["tools"] == []
    assert pinned.json()["version"] == 1
    assert missing_version.status_code == 404
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()] == [workflow_id]


async def test_agent_unknown_is_not_found(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.get(f"/agents/{uuid.uuid4()}", headers=headers)
    assert reply.status_code == 404
