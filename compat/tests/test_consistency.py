"""One task, two surfaces: what the REST API (/v1) creates the SDK reads and stops, and the
other way round (docs/api.md: "they share the same Task object")."""

from __future__ import annotations

from typing import Any

import httpx
from xpander_sdk import AgentExecutionStatus, Configuration, Tasks

from support import TERMINAL, Deploy, eventually, napper, shout


async def rest_settled(http: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        reply = await http.get(f"/v1/tasks/{task_id}")
        assert reply.status_code == 200, reply.text
        task: dict[str, Any] = reply.json()
        return task if task["status"] in TERMINAL else None

    return await eventually(check)


async def test_rest_task_is_readable_through_the_sdk(
    config: Configuration, deploy: Deploy, http: httpx.AsyncClient
) -> None:
    workflow_id = await deploy(shout())
    invoked = await http.post(
        f"/v1/workflows/{workflow_id}/invoke/async", json={"input": {"text": "rest"}}
    )
    assert invoked.status_code == 200, invoked.text
    task_id = invoked.json()["id"]
    rest = await rest_settled(http, task_id)

    task = await Tasks(configuration=config).aget(task_id=task_id)

    assert task.id == task_id
    assert task.agent_id == workflow_id
    assert task.status == AgentExecutionStatus.Completed
    assert task.result == rest["result"] == "REST!"
    assert task.source == "api"


async def test_rest_task_is_stoppable_through_the_sdk(
    config: Configuration, deploy: Deploy, http: httpx.AsyncClient
) -> None:
    workflow_id = await deploy(napper(30))
    invoked = await http.post(
        f"/v1/workflows/{workflow_id}/invoke/async", json={"input": {"text": "zz"}}
    )
    task_id = invoked.json()["id"]

    stopped = await Tasks(configuration=config).astop(task_id=task_id)
    rest = await rest_settled(http, task_id)

    assert stopped.status == AgentExecutionStatus.Stopped
    assert rest["status"] == "stopped"
    assert rest["is_manually_stopped"] is True


async def test_sdk_task_is_readable_through_rest(
    config: Configuration, deploy: Deploy, http: httpx.AsyncClient
) -> None:
    workflow_id = await deploy(shout())
    tasks = Tasks(configuration=config)
    created = await tasks.acreate(agent_id=workflow_id, prompt="sdk", title="From the SDK")

    rest = await rest_settled(http, created.id)
    sdk = await tasks.aget(task_id=created.id)
    listed = await http.get("/v1/tasks", params={"agent_id": workflow_id})

    assert rest["id"] == created.id
    assert rest["source"] == "sdk"
    assert rest["title"] == "From the SDK"
    assert rest["result"] == sdk.result == "SDK!"
    assert created.id in [item["id"] for item in listed.json()["items"]]
