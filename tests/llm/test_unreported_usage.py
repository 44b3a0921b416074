"""A provider that reports no usage leaves the tokens unknown, never 0: on the task, on its
node runs, and in every sum that includes such a call. SQLite and PostgreSQL.

The fake OpenAI-compatible server answers without any `usage`, as llama.cpp's server does
(streamed, it sends none even when `stream_options.include_usage` asks for it).
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import DeployWorkflow
from tests.llm.test_agents_api import deployed_agent, invoke
from tests.support.fake_llm import FakeLLM, Reply

UNKNOWN_ONE_CALL = {
    "prompt_tokens": None,
    "completion_tokens": None,
    "total_tokens": None,
    "unreported_calls": 1,
    "counted": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
}


def counts(tokens: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in tokens.items() if not key.startswith("cache_")}


async def test_streamed_answer_without_usage_leaves_the_tokens_unknown(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM
) -> None:
    agent_id = await deployed_agent(client, headers)
    fake_llm.script(Reply.say("Hello there.", usage=False))
    task = await invoke(client, headers, agent_id, "say hello")
    assert task["status"] == "completed", task
    sent = fake_llm.requests[-1].body
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}  # asked, and still got none
    assert counts(task["tokens"]) == UNKNOWN_ONE_CALL
    polled = (await client.get(f"/v1/tasks/{task['id']}", headers=headers)).json()
    assert counts(polled["tokens"]) == UNKNOWN_ONE_CALL
    [run] = polled["node_runs"]
    assert run["tokens"] == UNKNOWN_ONE_CALL


async def test_answer_without_usage_leaves_the_tokens_unknown__not_streamed(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    fake_llm: FakeLLM,
) -> None:
    summarizer = {"id": "sum", "type": "summarizer", "name": "sum", "definition": {}}
    workflow_id = await deploy_workflow({"name": "sum", "orchestration_nodes": [summarizer]})
    fake_llm.script(Reply.say("A summary.", usage=False))
    started = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "x"}}, headers=headers
    )
    assert started.status_code == 200, started.text
    task = started.json()
    assert task["status"] == "completed", task
    assert not fake_llm.requests[-1].body.get("stream")
    assert counts(task["tokens"]) == UNKNOWN_ONE_CALL
    polled = (await client.get(f"/v1/tasks/{task['id']}", headers=headers)).json()
    [run] = polled["node_runs"]
    assert run["tokens"] == UNKNOWN_ONE_CALL


async def test_a_sum_over_turns_where_one_went_uncounted_is_not_a_plain_number(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM
) -> None:
    agent_id = await deployed_agent(client, headers)
    fake_llm.script(
        Reply.say("Nice to meet you, Ada.", input_tokens=30, output_tokens=5),
        Reply.say("Your name is Ada.", usage=False),
    )
    first = await invoke(client, headers, agent_id, "My name is Ada.")
    assert counts(first["tokens"]) == {
        "prompt_tokens": 30,
        "completion_tokens": 5,
        "total_tokens": 35,
        "unreported_calls": 0,
    }
    second = await invoke(client, headers, agent_id, "What is my name?", id=first["id"])
    assert second["status"] == "completed", second
    assert counts(second["tokens"]) == {
        "prompt_tokens": None,
        "completion_tokens": None,
        "total_tokens": None,
        "unreported_calls": 1,
        "counted": {"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35},
    }
