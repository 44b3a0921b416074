"""`kill -9` while a workflow's agent node waits on its model: after the restart the parent
resumes its agent node, finds the sub-task that node run started (no second child), and the
retried model call carries the same idempotency key as the one that was cut off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.engine.crash.harness import FAST_LEASES, TERMINAL, Api, Cluster, until
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.workflows import code_node

pytestmark = pytest.mark.crash


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


async def test_agent_sub_task_survives_its_worker(
    cluster: Cluster, http: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    model_base = fake_llm.openai_base_url
    settings = {**FAST_LEASES, "llm_allowed_api_bases": json.dumps([model_base])}
    _, base = cluster.api_only(**settings)
    api = Api(base, cluster.key(), http)
    created = await http.post(
        f"{base}/v1/agents",
        json={
            "name": "slow",
            "model_provider": "local",
            "model_name": "m",
            "llm_api_base": model_base,
        },
        headers=api.headers,
    )
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    assert (await http.put(f"{base}/v1/agents/{agent_id}", headers=api.headers)).is_success
    workflow_id = await api.deploy(
        {
            "name": "delegates",
            "orchestration_nodes": [
                {
                    "id": "ask",
                    "type": "agent",
                    "definition": {"asset_id": agent_id},
                    "next_node_ids": ["after"],
                },
                code_node("after", "return input + ' (checked)'"),
            ],
        }
    )
    fake_llm.script(Reply.hang(60.0), Reply.say("the answer"))
    parent_id = await api.invoke(workflow_id, "question")
    first = cluster.worker(**settings)

    async def calling() -> bool:
        return len(fake_llm.requests) == 1

    await until(calling, within_s=90, what="the agent's model call in flight")
    first.kill()
    cluster.worker(**settings)

    async def finished() -> dict[str, Any] | None:
        task = await api.task(parent_id)
        return task if task["status"] in TERMINAL else None

    parent = await until(finished, within_s=90, what="the parent terminal after the restart")
    assert parent["status"] == "completed", parent
    assert parent["result"] == "the answer (checked)"
    [child_id] = parent["sub_executions"]
    child = await api.task(child_id)
    assert child["status"] == "completed", child
    assert child["execution_attempts"] == 2
    assert parent["execution_attempts"] == 2
    cut_off, retried = fake_llm.requests
    assert retried.headers["idempotency-key"] == cut_off.headers["idempotency-key"]
