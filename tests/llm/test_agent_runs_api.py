"""Agent runs through the API: the tool loop (HTTP actions, MCP), sub-tasks of a workflow's
agent node, and stopping a task while its model call is in flight.

Every peer is a real server on loopback: the fake model, an HTTP action receiver, an MCP
server. The egress rules allow loopback here, as an operator would allow-list a network.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from taskloom.config import Settings
from taskloom.store.database import Database
from taskloom.store.tables import metadata
from tests.conftest import DeployWorkflow
from tests.conftest import test_settings as settings_for
from tests.e2e.sse_client import iter_events
from tests.llm.conftest import llm_settings
from tests.llm.test_agents_api import deployed_agent, invoke
from tests.support.fake_actions import FakeActions
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.fake_mcp import FakeMCP
from tests.support.waiting import eventually

LOOPBACK = ["127.0.0.0/8"]


@pytest.fixture(scope="module")
def actions() -> Iterator[FakeActions]:
    with FakeActions() as server:
        yield server


@pytest.fixture(scope="module")
def mcp() -> Iterator[FakeMCP]:
    with FakeMCP() as server:
        yield server


@pytest.fixture
def egress() -> list[str]:
    return LOOPBACK


@pytest.fixture
def settings(database_url: str, fake_llm: FakeLLM, egress: list[str]) -> Settings:
    return settings_for(
        database_url,
        **llm_settings(fake_llm),
        egress_allowed_networks=egress,
        secret_key="test-secret-key-for-fernet",  # tool credentials are stored as secrets
    )


async def places_holding(database_url: str, needle: str) -> list[str]:
    """Every table of the store, and for SQLite every file of it, in which `needle` appears."""
    found: list[str] = []
    async with Database(database_url) as db, db.read() as conn:
        for table in metadata.sorted_tables:
            rows = (await conn.execute(sa.select(table))).all()
            if needle in json.dumps([list(row) for row in rows], default=str):
                found.append(table.name)
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        for file in path.parent.glob(f"{path.name}*"):  # the database, its -wal and -shm
            if needle.encode() in file.read_bytes():
                found.append(file.name)
    return found


async def stream_invoke(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, text: str = "go"
) -> list[dict[str, Any]]:
    async with client.stream(
        "POST", f"{path}/invoke/stream", json={"input": {"text": text}}, headers=headers
    ) as reply:
        assert reply.status_code == 200
        return [event.envelope async for event in iter_events(reply)]


def of_type(events: list[dict[str, Any]], kind: str) -> list[Any]:
    return [event["data"] for event in events if event["type"] == kind]


# -- tools -------------------------------------------------------------------------------


async def test_http_action_tool_loop_is_streamed(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM, actions: FakeActions
) -> None:
    actions.reset()
    tool = {
        "name": "lookup",
        "description": "Look a word up.",
        "url": f"{actions.url}/lookup",
        "method": "POST",
        "parameters": {
            "type": "object",
            "properties": {"word": {"type": "string"}},
            "required": ["word"],
        },
    }
    agent_id = await deployed_agent(client, headers, tools=[tool])
    fake_llm.script(Reply.tool("lookup", {"word": "loom"}), Reply.say("A loom weaves."))
    events = await stream_invoke(client, headers, f"/v1/agents/{agent_id}")

    requested = of_type(events, "tool_call_request")
    results = of_type(events, "tool_call_result")
    assert len(requested) == len(results) == 1
    assert requested[0]["tool_name"] == "lookup"
    assert requested[0]["payload"] == {"word": "loom"}
    assert requested[0]["graph_node_id"] == "agent"
    assert results[0]["is_error"] is False
    assert "loom" in json.dumps(results[0]["result"])
    kinds = [event["type"] for event in events]
    assert kinds.index("tool_call_request") < kinds.index("tool_call_result")
    assert kinds.index("tool_call_result") < kinds.index("chunk")
    finished = events[-1]["data"]
    assert finished["status"] == "completed"
    assert finished["result"] == "A loom weaves."

    [call] = actions.received
    assert call.body == {"word": "loom"}
    assert call.headers["idempotency-key"].startswith(finished["id"] + "/")
    # the model saw the tool's answer before it answered
    assert "loom" in json.dumps(fake_llm.requests[-1].body["messages"][-1])


@pytest.mark.parametrize("egress", [[]])
async def test_action_to_a_private_address_is_refused_without_the_allow_list(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM, actions: FakeActions
) -> None:
    actions.reset()
    tool = {"name": "peek", "url": f"{actions.url}/peek", "method": "GET"}
    agent_id = await deployed_agent(client, headers, tools=[tool])
    fake_llm.script(Reply.tool("peek", {}), Reply.say("I could not reach it."))
    events = await stream_invoke(client, headers, f"/v1/agents/{agent_id}")
    [result] = of_type(events, "tool_call_result")
    assert result["is_error"] is True
    assert actions.received == []
    assert events[-1]["data"]["status"] == "completed"


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
async def test_mcp_tool(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,
    mcp: FakeMCP,
    transport: str,
) -> None:
    url = mcp.streamable_http_url if transport == "streamable-http" else mcp.sse_url
    server = {"name": "calc", "url": url, "transport": transport}
    agent_id = await deployed_agent(client, headers, mcp_servers=[server])
    fake_llm.script(Reply.tool("add", {"a": 2, "b": 3}), Reply.say("2 + 3 = 5"))
    events = await stream_invoke(client, headers, f"/v1/agents/{agent_id}")
    [result] = of_type(events, "tool_call_result")
    assert result["tool_name"] == "add"
    assert result["is_error"] is False
    assert "5" in json.dumps(result["result"])
    assert events[-1]["data"]["result"] == "2 + 3 = 5"
    offered = [tool["function"]["name"] for tool in fake_llm.requests[0].body["tools"]]
    assert "add" in offered


async def test_tool_call_limit_ends_the_task_in_error(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM, actions: FakeActions
) -> None:
    tool = {"name": "again", "url": f"{actions.url}/again", "method": "GET"}
    agent_id = await deployed_agent(client, headers, tools=[tool], tool_call_limit=2)
    fake_llm.script(*[Reply.tool("again", {}) for _ in range(4)])
    task = await invoke(client, headers, agent_id)
    assert task["status"] == "error", task
    assert task["status_reason"] == "tool_call_limit"


# -- sub-tasks ---------------------------------------------------------------------------


async def test_workflow_agent_node_runs_the_agent_as_a_sub_task(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,
    deploy_workflow: DeployWorkflow,
) -> None:
    agent_id = await deployed_agent(client, headers)
    workflow_id = await deploy_workflow(
        {
            "name": "delegates",
            "orchestration_nodes": [
                {"id": "ask", "type": "agent", "definition": {"asset_id": agent_id}}
            ],
        }
    )
    fake_llm.script(
        Reply.say("First answer.", input_tokens=20, output_tokens=4),
        Reply.say("Second answer.", input_tokens=25, output_tokens=6),
    )
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "one"}}, headers=headers
    )
    parent = reply.json()
    assert parent["status"] == "completed", parent
    assert parent["result"] == "First answer."
    parent = (await client.get(f"/v1/tasks/{parent['id']}", headers=headers)).json()
    [child_id] = parent["sub_executions"]
    assert parent["finished_sub_executions"] == [child_id]
    assert parent["tokens"]["total_tokens"] == 24

    child = (await client.get(f"/v1/tasks/{child_id}", headers=headers)).json()
    assert child["parent_execution"] == parent["id"]
    assert child["source"] == "orchestration"
    assert child["agent_id"] == agent_id
    assert child["result"] == "First answer."
    assert child["tokens"]["total_tokens"] == 24
    children = (
        await client.get(f"/v1/tasks?parent_task_id={parent['id']}", headers=headers)
    ).json()
    assert [item["id"] for item in children["items"]] == [child_id]

    # the conversation's next turn continues the same sub-task: the agent sees its thread
    second = await client.post(
        f"/v1/workflows/{workflow_id}/invoke",
        json={"input": {"text": "two"}, "id": parent["id"]},
        headers=headers,
    )
    assert second.json()["result"] == "Second answer."
    history = json.dumps(fake_llm.requests[-1].body["messages"])
    assert "First answer." in history
    child = (await client.get(f"/v1/tasks/{child_id}", headers=headers)).json()
    assert child["turn"] == 2
    parent = (await client.get(f"/v1/tasks/{parent['id']}", headers=headers)).json()
    assert parent["sub_executions"] == [child_id]
    assert parent["tokens"]["total_tokens"] == 24 + 31


async def test_sub_task_failure_fails_the_node(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,
    deploy_workflow: DeployWorkflow,
) -> None:
    agent_id = await deployed_agent(client, headers)
    workflow_id = await deploy_workflow(
        {
            "name": "delegates",
            "orchestration_nodes": [
                {"id": "ask", "type": "agent", "definition": {"asset_id": agent_id}}
            ],
        }
    )
    fake_llm.script(*[Reply.error(503) for _ in range(3)])
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "x"}}, headers=headers
    )
    parent = reply.json()
    assert parent["status"] == "failed", parent
    assert parent["status_reason"] == "provider_unavailable"


async def test_agent_node_pointing_at_nothing_is_refused_when_saved(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = {
        "name": "dangling",
        "orchestration_nodes": [
            {"id": "ask", "type": "agent", "definition": {"asset_id": "no-such-agent"}}
        ],
    }
    reply = await client.post("/v1/workflows", json=body, headers=headers)
    assert reply.status_code == 422, reply.text
    [problem] = reply.json()["detail"]
    assert "node 'ask' (agent)" in problem["msg"]
    assert "no-such-agent" in problem["msg"]


async def test_agent_node_pointing_at_an_undeployed_agent_is_refused_at_deploy(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await client.post("/v1/agents", json={"name": "draft only"}, headers=headers)
    agent_id = created.json()["id"]
    body = {
        "name": "early",
        "orchestration_nodes": [
            {"id": "ask", "type": "agent", "definition": {"asset_id": agent_id}}
        ],
    }
    workflow = await client.post("/v1/workflows", json=body, headers=headers)
    assert workflow.status_code == 201, workflow.text
    deployed = await client.put(f"/v1/workflows/{workflow.json()['id']}", headers=headers)
    assert deployed.status_code == 422, deployed.text
    assert "never been deployed" in deployed.json()["detail"][0]["msg"]
    assert (await client.put(f"/v1/agents/{agent_id}", headers=headers)).status_code == 200
    deployed = await client.put(f"/v1/workflows/{workflow.json()['id']}", headers=headers)
    assert deployed.status_code == 200, deployed.text


# -- stop --------------------------------------------------------------------------------


async def test_stop_interrupts_a_slow_model_call(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="taskloom")
    agent_id = await deployed_agent(client, headers)
    fake_llm.script(Reply.hang(30.0))
    started = await client.post(
        f"/v1/agents/{agent_id}/invoke/async", json={"input": {"text": "x"}}, headers=headers
    )
    task_id = started.json()["id"]

    async def calling() -> bool:
        return len(fake_llm.requests) == 1

    await eventually(calling)  # the model call is in flight
    stopped = await client.post(f"/v1/tasks/{task_id}/stop", headers=headers)
    assert stopped.json()["status"] == "stopped"
    assert stopped.json()["is_manually_stopped"] is True

    async def interrupted() -> bool:
        return any(
            getattr(record, "event", None) == "task_interrupted"
            and getattr(record, "task_id", None) == task_id
            for record in caplog.records
        )

    # the bound: the in-flight call is abandoned within a second of the stop
    await eventually(interrupted, timeout=1.0)
    task = (await client.get(f"/v1/tasks/{task_id}", headers=headers)).json()
    assert task["status"] == "stopped"
    assert task["result"] is None


async def test_tool_headers_read_as_references_and_saved_back_still_reach_the_tool(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM, actions: FakeActions
) -> None:
    actions.reset()
    token = "Bearer tool-secret-4f1d2a9b"
    tool = {
        "name": "crm",
        "url": f"{actions.url}/crm",
        "method": "GET",
        "headers": {"Authorization": token},
    }
    created = await client.post(
        "/v1/agents",
        json={"name": "a", "model_provider": "openai", "model_name": "m", "tools": [tool]},
        headers=headers,
    )
    agent = created.json()
    assert agent["tools"][0]["headers"] == {}
    assert list(agent["tools"][0]["credential_refs"]) == ["headers.Authorization"]
    # saved as read; an older client's masked value with nothing behind it is dropped
    as_read = {**agent["tools"][0], "headers": {"Authorization": "********"}}
    saved = await client.patch(
        f"/v1/agents/{agent['id']}?deploy=true",
        json={"tools": [as_read], "description": "saved as read"},
        headers=headers,
    )
    assert saved.status_code == 200, saved.text
    fake_llm.script(Reply.tool("crm", {}), Reply.say("found"))
    task = await invoke(client, headers, agent["id"])
    assert task["status"] == "completed", task
    [call] = actions.received
    assert call.headers["authorization"] == token


async def test_tool_and_mcp_credentials_are_stored_only_encrypted_and_still_reach_their_servers(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,
    actions: FakeActions,
    mcp: FakeMCP,
    database_url: str,
) -> None:
    actions.reset()
    mcp.reset()
    token, mcp_key = "xyz-7c4a8d09ca3762af", "mcp-key-2fd4e1c67a2d28fc"
    tool = {
        "name": "crm",
        "url": f"{actions.url}/crm",
        "method": "GET",
        "headers": {"Authorization": f"Bearer {token}"},
    }
    server = {"name": "calc", "url": mcp.streamable_http_url, "api_key": mcp_key}
    created = await client.post(
        "/v1/agents",
        json={"name": "a", "model_provider": "openai", "model_name": "m", "tools": [tool]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    patched = await client.patch(
        f"/v1/agents/{agent_id}?deploy=true", json={"mcp_servers": [server]}, headers=headers
    )
    assert patched.status_code == 200, patched.text
    fake_llm.script(Reply.tool("crm", {}), Reply.say("found"))
    task = await invoke(client, headers, agent_id)
    assert task["status"] == "completed", task

    [call] = actions.received
    assert call.headers["authorization"] == f"Bearer {token}"
    assert mcp.headers
    assert all(seen["authorization"] == f"Bearer {mcp_key}" for seen in mcp.headers)
    fetched = await client.get(f"/v1/agents/{agent_id}", headers=headers)
    for reply in (created.text, patched.text, fetched.text, json.dumps(task)):
        assert token not in reply
        assert mcp_key not in reply
    assert await places_holding(database_url, token) == []
    assert await places_holding(database_url, mcp_key) == []
    # the definition keeps references, shown as such
    agent = fetched.json()
    assert "Authorization" not in agent["tools"][0]["headers"]
    assert set(agent["tools"][0]["credential_refs"]) == {"headers.Authorization"}
    assert set(agent["mcp_servers"][0]["credential_refs"]) == {"api_key"}


async def test_a_sub_task_does_not_outlive_its_timed_out_node(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,
    deploy_workflow: DeployWorkflow,
) -> None:
    agent_id = await deployed_agent(client, headers)
    workflow_id = await deploy_workflow(
        {
            "name": "impatient",
            "orchestration_nodes": [
                {
                    "id": "ask",
                    "type": "agent",
                    "timeout_seconds": 0.5,
                    "definition": {"asset_id": agent_id},
                }
            ],
        }
    )
    fake_llm.script(Reply.hang(30.0))
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "x"}}, headers=headers
    )
    parent = reply.json()
    assert parent["status"] == "error", parent
    assert parent["status_reason"] == "node_timeout"
    parent = (await client.get(f"/v1/tasks/{parent['id']}", headers=headers)).json()
    [child_id] = parent["sub_executions"]

    async def child_stopped() -> dict[str, Any] | None:
        child = (await client.get(f"/v1/tasks/{child_id}", headers=headers)).json()
        return child if child["status"] == "stopped" else None

    child = await eventually(child_stopped, timeout=10)
    assert child["parent_execution"] == parent["id"]
