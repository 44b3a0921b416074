"""Agents through the public API: CRUD, deploys and versions, invoke, tokens, credentials.

The model is the fake server on loopback; the real `openai` and `anthropic` clients talk to it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from tests.e2e.sse_client import iter_events
from tests.llm.conftest import SECRETS
from tests.support.fake_llm import FakeLLM, Reply

USER_KEY = "sk-user-named-secret-0c9a7e2f41d8b6"


def agent_body(**fields: Any) -> dict[str, Any]:
    return {
        "name": "helper",
        "instructions": {"role": ["You help."], "goal": ["Answer briefly."], "general": ""},
        "model_provider": "openai",
        "model_name": "gpt-test",
        **fields,
    }


async def create_agent(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    reply = await client.post("/v1/agents", json=agent_body(**fields), headers=headers)
    assert reply.status_code == 201, reply.text
    agent: dict[str, Any] = reply.json()
    return agent


async def deployed_agent(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> str:
    agent = await create_agent(client, headers, **fields)
    deployed = await client.put(f"/v1/agents/{agent['id']}", headers=headers)
    assert deployed.status_code == 200, deployed.text
    return str(agent["id"])


async def invoke(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    agent_id: str,
    text: str = "hi",
    query: str = "",
    **body: Any,
) -> dict[str, Any]:
    reply = await client.post(
        f"/v1/agents/{agent_id}/invoke{query}",
        json={"input": {"text": text}, **body},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    task: dict[str, Any] = reply.json()
    return task


# -- the resource ------------------------------------------------------------------------


async def test_agent_crud_and_versions(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    agent = await create_agent(client, headers)
    agent_id = agent["id"]
    assert agent["name"] == "helper"
    assert agent["version"] == 0
    assert agent["has_pending_changes"] is True
    assert agent["type"] == "regular"
    assert agent["instructions"]["role"] == ["You help."]
    assert agent["unique_name"]
    assert agent["framework"]
    assert isinstance(agent["graph"], list)

    deployed = (await client.put(f"/v1/agents/{agent_id}", headers=headers)).json()
    assert deployed["version"] == 1
    assert deployed["has_pending_changes"] is False

    patched = await client.patch(
        f"/v1/agents/{agent_id}", json={"model_name": "gpt-next"}, headers=headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["model_name"] == "gpt-next"
    assert patched.json()["has_pending_changes"] is True
    assert patched.json()["version"] == 1

    listed = (await client.get("/v1/agents", headers=headers)).json()
    assert [item["id"] for item in listed["items"]] == [agent_id]
    assert listed["items"][0]["model_name"] == "gpt-next"
    full = (await client.get("/v1/agents/full", headers=headers)).json()
    assert full["items"][0]["instructions"]["goal"] == ["Answer briefly."]
    # agents are not workflows
    assert (await client.get("/v1/workflows", headers=headers)).json()["items"] == []
    assert (await client.get(f"/v1/workflows/{agent_id}", headers=headers)).status_code == 404

    removed = await client.delete(f"/v1/agents/{agent_id}", headers=headers)
    assert removed.status_code == 202
    assert (await client.get(f"/v1/agents/{agent_id}", headers=headers)).status_code == 404


async def test_another_organization_sees_no_agent(
    client: httpx.AsyncClient, headers: dict[str, str], other_key: str
) -> None:
    agent_id = await deployed_agent(client, headers)
    other = {"x-api-key": other_key}
    assert (await client.get(f"/v1/agents/{agent_id}", headers=other)).status_code == 404
    assert (await client.get("/v1/agents", headers=other)).json()["items"] == []
    invoked = await client.post(
        f"/v1/agents/{agent_id}/invoke/async", json={"input": {"text": "x"}}, headers=other
    )
    assert invoked.status_code == 404
    assert (await client.delete(f"/v1/agents/{agent_id}", headers=other)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "a", "tools": [{"name": "bad name!", "url": "http://x"}]}],
)
async def test_bad_agent_bodies_are_422(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> None:
    reply = await client.post("/v1/agents", json=body, headers=headers)
    assert reply.status_code == 422
    assert "detail" in reply.json()


# -- invoking ----------------------------------------------------------------------------


async def test_sync_invoke_answers_with_the_model_reply_and_counts_tokens(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM
) -> None:
    agent_id = await deployed_agent(client, headers)
    fake_llm.script(Reply.say("Hello there.", input_tokens=30, output_tokens=5))
    task = await invoke(client, headers, agent_id, "say hello")
    assert task["status"] == "completed", task
    assert task["result"] == "Hello there."
    assert task["agent_id"] == agent_id
    assert task["is_orchestration"] is False
    assert task["tokens"]["prompt_tokens"] == 30
    assert task["tokens"]["completion_tokens"] == 5
    assert task["tokens"]["total_tokens"] == 35
    assert task["llm_model_name"] == "gpt-test"
    polled = (await client.get(f"/v1/tasks/{task['id']}", headers=headers)).json()
    assert polled["node_runs"][0]["tokens"]["total_tokens"] == 35
    sent = fake_llm.requests[-1]
    assert sent.body["model"] == "gpt-test"
    assert "You help." in json.dumps(sent.body["messages"])
    assert "say hello" in json.dumps(sent.body["messages"])


async def test_per_run_model_override_is_used_and_snapshotted(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM
) -> None:
    agent_id = await deployed_agent(client, headers)
    fake_llm.script(Reply.say("ok"))
    task = await invoke(
        client, headers, agent_id, llm_model_name="o4-mini", llm_reasoning_effort="high"
    )
    assert task["status"] == "completed", task
    assert task["llm_model_name"] == "o4-mini"
    assert task["llm_model_provider"] == "openai"
    assert task["llm_reasoning_effort"] == "high"
    assert fake_llm.requests[-1].body["model"] == "o4-mini"
    assert fake_llm.requests[-1].body["reasoning_effort"] == "high"


async def test_anthropic_agent(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM
) -> None:
    agent_id = await deployed_agent(
        client, headers, model_provider="anthropic", model_name="claude-test"
    )
    fake_llm.script(Reply.say("Bonjour.", input_tokens=12, output_tokens=3))
    task = await invoke(client, headers, agent_id)
    assert task["status"] == "completed", task
    assert task["result"] == "Bonjour."
    assert task["tokens"]["total_tokens"] == 15
    assert fake_llm.requests[-1].api == "anthropic"


async def test_versions_pin_and_draft_runs(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM
) -> None:
    agent = await create_agent(client, headers)
    agent_id = agent["id"]
    never = await client.post(
        f"/v1/agents/{agent_id}/invoke", json={"input": {"text": "x"}}, headers=headers
    )
    assert never.status_code == 409
    fake_llm.script(Reply.say("from the draft"))
    task = await invoke(client, headers, agent_id, query="?version=draft")
    assert task["status"] == "completed", task
    assert task["agent_version"] == "0"
    assert fake_llm.requests[-1].body["model"] == "gpt-test"

    await client.put(f"/v1/agents/{agent_id}", headers=headers)  # v1: gpt-test
    await client.patch(
        f"/v1/agents/{agent_id}?deploy=true", json={"model_name": "gpt-two"}, headers=headers
    )  # v2
    fake_llm.script(Reply.say("one"), Reply.say("two"))
    first = await invoke(client, headers, agent_id, query="?version=1")
    assert fake_llm.requests[-1].body["model"] == "gpt-test"
    latest = await invoke(client, headers, agent_id)
    assert fake_llm.requests[-1].body["model"] == "gpt-two"
    assert (first["agent_version"], latest["agent_version"]) == ("1", "2")
    missing = await client.post(
        f"/v1/agents/{agent_id}/invoke?version=9", json={"input": {"text": "x"}}, headers=headers
    )
    assert missing.status_code == 404


async def test_multi_turn_agent_sees_the_thread(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM
) -> None:
    agent_id = await deployed_agent(client, headers)
    fake_llm.script(Reply.say("Nice to meet you, Ada."), Reply.say("Your name is Ada."))
    first = await invoke(client, headers, agent_id, "My name is Ada.")
    second = await invoke(client, headers, agent_id, "What is my name?", id=first["id"])
    assert second["id"] == first["id"]
    assert second["result"] == "Your name is Ada."
    history = json.dumps(fake_llm.requests[-1].body["messages"])
    assert "My name is Ada." in history
    assert "Nice to meet you, Ada." in history
    assert "What is my name?" in history
    assert second["tokens"]["total_tokens"] == 2 * (11 + 7)  # both turns


async def test_stream_carries_chunks_that_make_the_answer(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM
) -> None:
    agent_id = await deployed_agent(client, headers)
    answer = "A streamed answer, in several pieces."
    fake_llm.script(Reply.say(answer))
    async with client.stream(
        "POST",
        f"/v1/agents/{agent_id}/invoke/stream",
        json={"input": {"text": "go"}},
        headers=headers,
    ) as reply:
        assert reply.status_code == 200
        events = [event.envelope async for event in iter_events(reply)]
    kinds = [event["type"] for event in events]
    assert kinds[0] == "task_created"
    assert kinds[-1] == "task_finished"
    chunks = [event["data"] for event in events if event["type"] == "chunk"]
    assert len(chunks) > 1
    assert "".join(chunks) == answer
    assert events[-1]["data"]["result"] == answer
    assert kinds.index("chunk") < kinds.index("task_finished")
    # the node's events sit between its start and its finish, however they were batched
    assert kinds.index("node_started") < kinds.index("chunk")
    assert len(kinds) - kinds[::-1].index("chunk") - 1 < kinds.index("node_finished")


async def test_structured_output_is_schema_valid_json(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM
) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    agent_id = await deployed_agent(client, headers, output_format="json", output_schema=schema)
    fake_llm.script(
        Reply.tool("answer", {"city": "Paris"}),  # misses `population`: asked again
        Reply.tool("answer", {"city": "Paris", "population": 2100000}),
    )
    task = await invoke(client, headers, agent_id, "largest French city")
    assert task["status"] == "completed", task
    assert json.loads(task["result"]) == {"city": "Paris", "population": 2100000}
    assert len(fake_llm.requests) == 2


async def test_structured_output_that_never_validates_ends_in_error(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM
) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    agent_id = await deployed_agent(client, headers, output_format="json", output_schema=schema)
    fake_llm.script(*[Reply.tool("answer", {"n": "many"}) for _ in range(5)])
    task = await invoke(client, headers, agent_id)
    assert task["status"] == "error", task
    assert task["status_reason"] == "invalid_llm_output"


async def test_provider_outage_fails_the_task_with_a_reason(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM
) -> None:
    agent_id = await deployed_agent(client, headers)
    fake_llm.script(*[Reply.error(500) for _ in range(3)])
    task = await invoke(client, headers, agent_id)
    assert task["status"] == "failed", task
    assert task["status_reason"] == "provider_unavailable"


# -- credentials -------------------------------------------------------------------------


@pytest.mark.parametrize("llm_overrides", [{"secret_key": "test-secret-key-for-fernet"}])
async def test_inline_credentials_are_stored_encrypted_and_never_returned(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    agent = await create_agent(
        client, headers, llm_credentials={"name": "team-openai", "value": USER_KEY}
    )
    agent_id = agent["id"]
    await client.put(f"/v1/agents/{agent_id}", headers=headers)
    fake_llm.script(Reply.say("ok"))
    task = await invoke(client, headers, agent_id)
    assert task["status"] == "completed", task
    # the named key, not the server's, went to the provider
    assert fake_llm.requests[-1].headers["authorization"] == f"Bearer {USER_KEY}"
    replies = [
        (await client.get(f"/v1/agents/{agent_id}", headers=headers)).text,
        (await client.get("/v1/agents/full", headers=headers)).text,
        (await client.get(f"/v1/tasks/{task['id']}", headers=headers)).text,
        json.dumps(agent),
        json.dumps(task),
    ]
    for text in replies:
        assert USER_KEY not in text
        for secret in SECRETS:
            assert secret not in text
    assert json.loads(replies[0])["llm_credentials_key"] == "team-openai"
    for record in caplog.records:
        assert USER_KEY not in record.getMessage()
        assert USER_KEY not in json.dumps(record.__dict__, default=str)


async def test_inline_credentials_without_a_server_secret_key_are_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.post(
        "/v1/agents",
        json=agent_body(llm_credentials={"value": USER_KEY}),
        headers=headers,
    )
    assert reply.status_code == 422
    assert USER_KEY not in reply.text


async def test_workflow_replies_redact_node_credentials(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    node = {
        "id": "s",
        "type": "summarizer",
        "definition": {"settings": {"llm_credentials": {"name": "k", "value": USER_KEY}}},
    }
    created = await client.post(
        "/v1/workflows", json={"name": "w", "orchestration_nodes": [node]}, headers=headers
    )
    assert created.status_code == 201, created.text
    fetched = await client.get(f"/v1/workflows/{created.json()['id']}", headers=headers)
    for text in (created.text, fetched.text):
        assert USER_KEY not in text
    settings = fetched.json()["orchestration_nodes"][0]["definition"]["settings"]
    assert settings["llm_credentials"]["value"] == "********"


async def test_agents_and_workflows_are_invoked_each_on_their_own_routes(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: Any
) -> None:
    agent_id = await deployed_agent(client, headers)
    workflow_id = await deploy_workflow({"name": "w", "orchestration_nodes": []})
    body = {"input": {"text": "x"}}
    wrong_agent = await client.post(f"/v1/workflows/{agent_id}/invoke", json=body, headers=headers)
    wrong_workflow = await client.post(
        f"/v1/agents/{workflow_id}/invoke/async", json=body, headers=headers
    )
    assert wrong_agent.status_code == 404
    assert wrong_workflow.status_code == 404


@pytest.mark.parametrize("llm_overrides", [{"secret_key": "test-secret-key-for-fernet"}])
async def test_a_named_secret_serves_every_agent_that_names_it(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM, other_key: str
) -> None:
    stored = await client.put("/v1/secrets/team-key", json={"value": USER_KEY}, headers=headers)
    assert stored.status_code == 200, stored.text
    listed = (await client.get("/v1/secrets", headers=headers)).json()
    assert [item["name"] for item in listed["items"]] == ["team-key"]
    assert USER_KEY not in json.dumps(listed)
    # another organization neither sees it nor can use it
    other = {"x-api-key": other_key}
    assert (await client.get("/v1/secrets", headers=other)).json()["items"] == []

    agent_id = await deployed_agent(client, headers, llm_credentials_key="team-key")
    fake_llm.script(Reply.say("ok"))
    task = await invoke(client, headers, agent_id)
    assert task["status"] == "completed", task
    assert fake_llm.requests[-1].headers["authorization"] == f"Bearer {USER_KEY}"

    removed = await client.delete("/v1/secrets/team-key", headers=headers)
    assert removed.status_code == 204
    task = await invoke(client, headers, agent_id)
    assert task["status"] == "error", task
    assert task["status_reason"] == "credentials_missing"
    bad = await client.put("/v1/secrets/bad name", json={"value": "x"}, headers=headers)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"name": None}, 422),
        ({"tools": "nope"}, 422),
        ({"mcp_servers": [{"transport": "carrier-pigeon"}]}, 422),
        ({"status": "WEIRD"}, 422),
        ({"output_format": "yaml"}, 422),
        ({"tool_call_limit": -1}, 422),
        ([], 422),
    ],
)
async def test_bad_agent_patches_are_4xx_and_change_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], body: Any, status: int
) -> None:
    agent = await create_agent(client, headers)
    reply = await client.patch(f"/v1/agents/{agent['id']}", json=body, headers=headers)
    assert reply.status_code == status, reply.text
    assert "detail" in reply.json()
    after = (await client.get(f"/v1/agents/{agent['id']}", headers=headers)).json()
    assert after == agent | {"updated_at": after["updated_at"]}


@pytest.mark.parametrize("llm_overrides", [{"secret_key": "test-secret-key-for-fernet"}])
async def test_tool_and_mcp_credentials_become_references_that_survive_a_round_trip(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM
) -> None:
    tool = {
        "name": "crm",
        "url": "https://crm.example.com/find",
        "headers": {"Authorization": f"Bearer {USER_KEY}"},
    }
    server = {"name": "docs", "url": "https://mcp.example.com/mcp", "api_key": USER_KEY}
    agent = await create_agent(client, headers, tools=[tool], mcp_servers=[server])
    assert USER_KEY not in json.dumps(agent)
    assert agent["tools"][0]["headers"] == {}
    assert agent["tools"][0]["credential_refs"] == {
        "headers.Authorization": f"agent-{agent['id']}-tool-crm-header-authorization"
    }
    assert "api_key" not in agent["mcp_servers"][0]
    assert agent["mcp_servers"][0]["credential_refs"] == {
        "api_key": f"agent-{agent['id']}-mcp-docs-api_key"
    }
    names = [
        item["name"] for item in (await client.get("/v1/secrets", headers=headers)).json()["items"]
    ]
    refs = [*agent["tools"][0]["credential_refs"].values()]
    refs += agent["mcp_servers"][0]["credential_refs"].values()
    assert sorted(names) == sorted(refs)

    # the whole definition, as read, saved back with one change
    saved = await client.patch(
        f"/v1/agents/{agent['id']}?deploy=true",
        json={"tools": agent["tools"], "mcp_servers": agent["mcp_servers"], "model_name": "m2"},
        headers=headers,
    )
    assert saved.status_code == 200, saved.text
    assert USER_KEY not in saved.text
    assert saved.json()["tools"][0]["credential_refs"] == agent["tools"][0]["credential_refs"]
    # the references are kept: the run gets the real header
    fake_llm.script(Reply.say("ok"))
    per_run = {"name": "extra", "url": "https://x.example.com/mcp", "api_key": USER_KEY}
    reply = await client.post(
        f"/v1/agents/{agent['id']}/invoke/async",
        json={"input": {"text": "x"}, "mcp_servers": [per_run]},
        headers=headers,
    )
    assert USER_KEY not in reply.text
    assert reply.json()["mcp_servers"][0]["api_key"] == "********"


async def test_inline_tool_credentials_without_a_server_secret_key_are_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    tool = {"name": "crm", "url": "https://crm.example.com/", "headers": {"X-Key": USER_KEY}}
    reply = await client.post("/v1/agents", json=agent_body(tools=[tool]), headers=headers)
    assert reply.status_code == 422
    assert "TASKLOOM_SECRET_KEY" in reply.text
    assert USER_KEY not in reply.text
