"""Waiting on a task: `GET /v1/tasks/{id}?wait=S` (long poll, docs/api.md) and a sync invoke
that runs past its wait budget (answers 202 with the running task)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from taskloom.config import Settings
from tests.conftest import DeployWorkflow
from tests.conftest import test_settings as make_settings
from tests.e2e.sse_client import TERMINAL
from tests.support.workflows import code_node

SYNC_WAIT_S = 0.3


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The shared settings with a short sync-invoke budget (only the sync test relies on it)."""
    return make_settings(database_url, sync_wait_s=SYNC_WAIT_S)


def sleeper(sleep_s: float) -> dict[str, Any]:
    return {
        "name": "sleeper",
        "output_format": "text",
        "orchestration_nodes": [
            code_node("nap", f"import time\ntime.sleep({sleep_s})\nreturn 'rested:' + input")
        ],
    }


async def start(
    client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, text: str
) -> str:
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async", json={"input": {"text": text}}, headers=headers
    )
    assert reply.status_code == 200, reply.text
    task_id: str = reply.json()["id"]
    return task_id


async def test_get_task_wait_returns_once_the_task_finishes(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task_id = await start(client, headers, await deploy_workflow(sleeper(0.5)), "a")

    began = time.monotonic()
    reply = await client.get(f"/v1/tasks/{task_id}", headers=headers, params={"wait": "30"})
    took = time.monotonic() - began

    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "completed", reply.json()
    assert reply.json()["result"] == "rested:a"
    assert took < 10, f"the long poll took {took:.1f} s for a task of about 0.5 s"


async def test_get_task_wait_runs_out_with_the_running_state(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task_id = await start(client, headers, await deploy_workflow(sleeper(5)), "b")

    began = time.monotonic()
    reply = await client.get(f"/v1/tasks/{task_id}", headers=headers, params={"wait": "0.2"})
    took = time.monotonic() - began

    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] in ("pending", "executing"), reply.json()
    assert took >= 0.2, f"answered after {took:.3f} s, before the wait ran out"
    stopped = await client.post(f"/v1/tasks/{task_id}/stop", headers=headers)
    assert stopped.status_code == 200, stopped.text


@pytest.mark.parametrize("wait", ["0", "61", "abc", "-1"])
async def test_get_task_wait_out_of_range_is_422(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    wait: str,
) -> None:
    task_id = await start(client, headers, await deploy_workflow(sleeper(0)), "c")
    reply = await client.get(f"/v1/tasks/{task_id}", headers=headers, params={"wait": wait})
    assert reply.status_code == 422, reply.text


async def test_invoke_sync_past_its_wait_budget_answers_202_with_the_running_task(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(sleeper(2))
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "d"}}, headers=headers
    )
    assert reply.status_code == 202, reply.text
    task = reply.json()
    assert task["status"] in ("pending", "executing"), task
    assert task["status"] not in TERMINAL
    assert task["result"] is None

    done = await client.get(f"/v1/tasks/{task['id']}", headers=headers, params={"wait": "30"})
    assert done.json()["status"] == "completed", done.json()
    assert done.json()["result"] == "rested:d"
