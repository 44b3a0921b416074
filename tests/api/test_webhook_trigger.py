"""The inbound webhook trigger (`POST /webhook?agent_id=...`): JSON, form and multipart
bodies, the key in a header or the query, synchronous replies with `getter`, continuing a
task, and duplicate prevention."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from taskloom.config import Settings
from tests.conftest import DeployWorkflow
from tests.conftest import test_settings as make_settings
from tests.support.workflows import code_node

MAX_FILE_BYTES = 64


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, webhook_max_file_bytes=MAX_FILE_BYTES)


# the first node gets the text: the prompt, then the other fields as JSON
ECHO = "return {'text': input, 'n': len(input)}"


def echo_workflow(**extra: Any) -> dict[str, Any]:
    return {
        "name": "echo",
        "output_format": "json",
        "orchestration_nodes": [code_node("echo", ECHO)],
        **extra,
    }


async def test_a_json_body_runs_synchronously_and_getter_picks_from_the_result(
    client: httpx.AsyncClient, api_key: str, deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(echo_workflow())
    reply = await client.post(
        "/webhook",
        params={"agent_id": workflow_id, "getter": "text", "x-api-key": api_key},
        json={"prompt": "new order", "order": 7},
    )

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "completed"
    assert body["result"] == 'new order\n\n{"order": 7}'
    assert body["completed_at"] is not None
    task = await client.get(f"/v1/tasks/{body['id']}", headers={"x-api-key": api_key})
    assert task.json()["source"] == "webhook"
    assert task.json()["payload_extension"] == {"webhook": {"order": 7}}


async def test_a_form_body_and_the_key_in_a_header_start_an_asynchronous_task(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(echo_workflow())
    reply = await client.post(
        "/webhook",
        params={"agent_id": workflow_id, "asynchronous": "true"},
        data={"prompt": "from a form"},
        headers=headers,
    )

    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "Started"
    task = await client.get(
        f"/v1/tasks/{reply.json()['task_id']}", params={"wait": 20}, headers=headers
    )
    assert json.loads(task.json()["result"])["text"] == "from a form"


async def test_multipart_files_become_attachments_within_the_limit(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(echo_workflow())
    reply = await client.post(
        "/webhook",
        params={"agent_id": workflow_id},
        data={"prompt": "see attached"},
        files={"file": ("note.txt", b"hello file", "text/plain")},
        headers=headers,
    )

    assert reply.status_code == 200, reply.text
    task = (await client.get(f"/v1/tasks/{reply.json()['id']}", headers=headers)).json()
    encoded = base64.b64encode(b"hello file").decode()
    assert task["input"]["files"] == [f"data:text/plain;base64,{encoded}"]


async def test_a_file_past_the_limit_is_413(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(echo_workflow())
    reply = await client.post(
        "/webhook",
        params={"agent_id": workflow_id},
        files={"file": ("big.bin", b"x" * (MAX_FILE_BYTES + 1), "application/octet-stream")},
        headers=headers,
    )
    assert reply.status_code == 413, reply.text


async def test_duplicate_payloads_within_the_ttl_return_the_first_task(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    strategies = {
        "duplication_prevention": {"enabled": True, "selectors": ["order.id"], "ttl_minutes": 5}
    }
    workflow_id = await deploy_workflow(echo_workflow(task_level_strategies=strategies))

    async def send(order_id: int, note: str) -> str:
        reply = await client.post(
            "/webhook",
            params={"agent_id": workflow_id, "asynchronous": "true"},
            json={"order": {"id": order_id, "note": note}},
            headers=headers,
        )
        assert reply.status_code == 200, reply.text
        task_id: str = reply.json()["task_id"]
        return task_id

    first = await send(1, "a")
    assert await send(1, "b") == first  # same selected value: the same task
    assert await send(2, "a") != first


async def test_bad_calls_get_clear_answers(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(echo_workflow())

    no_key = await client.post("/webhook", params={"agent_id": workflow_id}, json={})
    assert no_key.status_code == 401
    unknown = await client.post("/webhook", params={"agent_id": "nope"}, json={}, headers=headers)
    assert unknown.status_code == 404
    not_object = await client.post(
        "/webhook", params={"agent_id": workflow_id}, json=[1, 2], headers=headers
    )
    assert not_object.status_code == 422
    webhook_url = (await client.get(f"/v1/workflows/{workflow_id}", headers=headers)).json()[
        "webhook_url"
    ]
    assert webhook_url.endswith(f"/webhook?agent_id={workflow_id}")


async def test_a_workflow_past_its_daily_runs_answers_429_with_retry_after(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(
        echo_workflow(task_level_strategies={"max_runs_per_day": 1})
    )
    params = {"agent_id": workflow_id, "asynchronous": "true"}
    first = await client.post("/webhook", params=params, json={}, headers=headers)
    assert first.status_code == 200, first.text

    second = await client.post("/webhook", params=params, json={}, headers=headers)
    assert second.status_code == 429
    assert "max_runs_per_day" in second.json()["detail"]
    assert int(second.headers["retry-after"]) > 0
