"""Tool approvals: an agent tool named in `hitl_options.tool_names` pauses the task before
the call. Approval runs it; a denial hands the model "denied by <who>: <comment>" or ends
the task. The fake model, the HTTP action receiver and the store are real; the model is
never asked its first turn again after the pause (the conversation is kept in the store)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from taskloom.config import Settings
from taskloom.engine.subtasks import child_id as sub_task_id
from tests.conftest import DeployWorkflow
from tests.conftest import test_settings as settings_for
from tests.llm.conftest import llm_settings
from tests.llm.test_agents_api import deployed_agent
from tests.support.fake_actions import FakeActions
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def actions() -> Iterator[FakeActions]:
    with FakeActions() as server:
        yield server


@pytest.fixture
def settings(database_url: str, fake_llm: FakeLLM) -> Settings:
    return settings_for(
        database_url, **llm_settings(fake_llm), egress_allowed_networks=["127.0.0.0/8"]
    )


async def refund_agent(
    client: httpx.AsyncClient, headers: dict[str, str], actions: FakeActions, on_deny: str
) -> str:
    actions.reset()
    refund = {
        "name": "refund",
        "description": "Refund an order.",
        "url": f"{actions.url}/refunds",
        "method": "POST",
        "parameters": {"type": "object", "properties": {"order": {"type": "string"}}},
    }
    lookup = {"name": "lookup", "url": f"{actions.url}/orders", "method": "GET"}
    return await deployed_agent(
        client,
        headers,
        tools=[refund, lookup],
        hitl_options={"enabled": True, "tool_names": ["refund"], "on_deny": on_deny},
    )


async def settled(client: httpx.AsyncClient, headers: dict[str, str], task_id: str) -> Any:
    """The task once it is terminal or paused (the long poll answers at either)."""
    reply = await client.get(f"/v1/tasks/{task_id}", params={"wait": 20}, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def paused_for_refund(
    client: httpx.AsyncClient, headers: dict[str, str], agent_id: str, fake_llm: FakeLLM
) -> dict[str, Any]:
    fake_llm.script(Reply.tool("refund", {"order": "A1"}))
    reply = await client.post(
        f"/v1/agents/{agent_id}/invoke/async",
        json={"input": {"text": "refund order A1"}},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    task: dict[str, Any] = await settled(client, headers, reply.json()["id"])
    assert task["status"] == "paused", task
    return task


def tool_messages(fake_llm: FakeLLM) -> list[str]:
    """What the model was told about tool calls, in its last request."""
    messages = fake_llm.requests[-1].body["messages"]
    return [str(message["content"]) for message in messages if message["role"] == "tool"]


async def test_an_approved_call_runs_and_the_agent_goes_on(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM, actions: FakeActions
) -> None:
    agent_id = await refund_agent(client, headers, actions, "continue")
    task = await paused_for_refund(client, headers, agent_id, fake_llm)

    request = task["hitl_request"]
    assert request["type"] == "tool_approval"
    assert request["tool_calls"][0]["tool_name"] == "refund"
    assert request["tool_calls"][0]["payload"] == {"order": "A1"}
    assert "history" not in json.dumps(request)  # the conversation is kept, not shown
    assert actions.received == []  # nothing ran before the decision

    fake_llm.script(Reply.say("Refunded A1."))
    approved = await client.post(
        f"/v1/tasks/{task['id']}/approve", json={"decided_by": "ana"}, headers=headers
    )
    assert approved.status_code == 200, approved.text
    done = await settled(client, headers, task["id"])

    assert (done["status"], done["result"]) == ("completed", "Refunded A1.")
    assert [(r.method, r.body) for r in actions.received] == [("POST", {"order": "A1"})]
    assert len(fake_llm.requests) == 2  # the first turn was not asked again
    assert "A1" in tool_messages(fake_llm)[0]  # the receiver's echo went back to the model
    events = await client.get(f"/v1/tasks/{task['id']}/events", headers=headers)
    results = [
        json.loads(line.removeprefix("data: "))["data"]
        for line in events.text.splitlines()
        if line.startswith("data: ") and '"tool_call_result"' in line
    ]
    assert len(results) == 1
    assert results[0]["approval_request_id"] is not None


async def test_a_denied_call_tells_the_model_who_denied_it(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM, actions: FakeActions
) -> None:
    agent_id = await refund_agent(client, headers, actions, "continue")
    task = await paused_for_refund(client, headers, agent_id, fake_llm)

    fake_llm.script(Reply.say("I may not refund A1."))
    rejected = await client.post(
        f"/v1/tasks/{task['id']}/reject",
        json={"decided_by": "ana", "comment": "over the limit"},
        headers=headers,
    )
    assert rejected.status_code == 200, rejected.text
    done = await settled(client, headers, task["id"])

    assert (done["status"], done["result"]) == ("completed", "I may not refund A1.")
    assert actions.received == []
    [told] = tool_messages(fake_llm)
    assert json.loads(told) == {"error": "denied by ana: over the limit"}


async def test_a_denial_ends_the_task_when_the_agent_stops_on_denials(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM, actions: FakeActions
) -> None:
    agent_id = await refund_agent(client, headers, actions, "stop")
    task = await paused_for_refund(client, headers, agent_id, fake_llm)

    await client.post(f"/v1/tasks/{task['id']}/reject", json={"decided_by": "bo"}, headers=headers)
    done = await settled(client, headers, task["id"])

    assert (done["status"], done["status_reason"]) == ("error", "tool_denied")
    assert "denied by bo" in done["status_message"]
    assert actions.received == []
    assert len(fake_llm.requests) == 1


async def test_two_approvals_in_one_run_each_go_on_where_the_run_stopped(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM, actions: FakeActions
) -> None:
    agent_id = await refund_agent(client, headers, actions, "continue")
    task = await paused_for_refund(client, headers, agent_id, fake_llm)

    fake_llm.script(Reply.tool("refund", {"order": "B2"}))
    await client.post(f"/v1/tasks/{task['id']}/approve", json={}, headers=headers)
    second = await settled(client, headers, task["id"])
    assert second["status"] == "paused"
    assert second["hitl_request"]["tool_calls"][0]["payload"] == {"order": "B2"}

    fake_llm.script(Reply.say("Both refunded."))
    await client.post(f"/v1/tasks/{task['id']}/approve", json={}, headers=headers)
    done = await settled(client, headers, task["id"])

    assert (done["status"], done["result"]) == ("completed", "Both refunded.")
    assert [r.body for r in actions.received] == [{"order": "A1"}, {"order": "B2"}]
    assert len(fake_llm.requests) == 3


async def test_a_workflows_agent_node_waits_through_its_sub_tasks_approval(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,
    actions: FakeActions,
    deploy_workflow: DeployWorkflow,
) -> None:
    agent_id = await refund_agent(client, headers, actions, "continue")
    workflow_id = await deploy_workflow(
        {
            "name": "delegates",
            "orchestration_nodes": [
                {"id": "ask", "type": "agent", "definition": {"asset_id": agent_id}}
            ],
        }
    )
    fake_llm.script(Reply.tool("refund", {"order": "A1"}))
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        json={"input": {"text": "refund order A1"}},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    parent_id = reply.json()["id"]
    child_id = sub_task_id(parent_id, "ask")
    child = await created(client, headers, child_id)
    assert child["status"] == "paused", child
    assert child["hitl_request"]["tool_calls"][0]["tool_name"] == "refund"
    parent = (await client.get(f"/v1/tasks/{parent_id}", headers=headers)).json()
    assert parent["status"] == "executing"  # its agent node waits for the child's outcome

    fake_llm.script(Reply.say("Refunded A1."))
    approved = await client.post(
        f"/v1/tasks/{child_id}/approve", json={"decided_by": "ana"}, headers=headers
    )
    assert approved.status_code == 200, approved.text
    done = await settled(client, headers, parent_id)

    assert (done["status"], done["result"]) == ("completed", "Refunded A1.")
    assert (await settled(client, headers, child_id))["status"] == "completed"
    assert [(r.method, r.body) for r in actions.received] == [("POST", {"order": "A1"})]
    assert len(fake_llm.requests) == 2


async def created(client: httpx.AsyncClient, headers: dict[str, str], task_id: str) -> Any:
    """The task once it exists and is terminal or paused (a sub-task its parent starts)."""

    async def found() -> bool:
        reply = await client.get(f"/v1/tasks/{task_id}", headers=headers)
        return reply.status_code == 200

    await eventually(found)
    while True:  # on a busy machine the first model call (its imports) may outlast one wait
        task = await settled(client, headers, task_id)
        if task["status"] not in ("pending", "executing"):
            return task
