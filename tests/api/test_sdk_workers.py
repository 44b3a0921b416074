"""xpander-sdk worker mode at the HTTP level (docs/xpander-sdk.md), on SQLite and PostgreSQL:
what an `@on_task` worker sees and sends, spoken here by a small client over real HTTP.

(The compat suite runs the official SDK's worker against a server; these tests pin down the
protocol and the lease rules on both databases.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from taskloom.config import Settings
from tests.conftest import test_settings as settings_for
from tests.support.live_app import live_client


@pytest.fixture
def settings(database_url: str, request: pytest.FixtureRequest) -> Settings:
    if request.node.get_closest_marker("short_lease"):
        # a worker that stops heartbeating loses its task within seconds
        return settings_for(database_url, lease_s=1.5, sweep_s=0.3)
    # long enough that a loaded machine never takes a task from a worker that is not silent
    return settings_for(database_url, lease_s=60.0)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with live_client(settings) as http:
        yield http


@pytest.fixture
async def org(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    created = await client.post("/v1/agents", json={"name": "probe"}, headers=headers)
    organization_id: str = created.json()["organization_id"]
    return organization_id


class WorkerStream:
    """One worker's event stream: named SSE events, read as they come."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next(self, within_s: float = 10.0) -> tuple[str, Any]:
        kind, data = "", None
        async with asyncio.timeout(within_s):
            async for line in self._lines:
                if line.startswith("event:"):
                    kind = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    data = json.loads(line.removeprefix("data:").strip())
                elif line == "" and kind:
                    return kind, data
        raise AssertionError("the worker stream ended")


@asynccontextmanager
async def worker(
    client: httpx.AsyncClient, headers: dict[str, str], org: str, agent_id: str
) -> AsyncIterator[WorkerStream]:
    async with client.stream(
        "GET",
        f"/{org}/events/{agent_id}/",
        params={"environment": "local", "supports_llm_gateway": "true"},
        headers=headers,
        timeout=httpx.Timeout(30.0, read=None),
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield WorkerStream(response)


async def container_agent(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    created = await client.post(
        "/v1/agents", json={"name": "own code", "deployment_type": "container"}, headers=headers
    )
    agent_id: str = created.json()["id"]
    assert (await client.put(f"/v1/agents/{agent_id}", headers=headers)).status_code == 200
    return agent_id


async def beat(client: httpx.AsyncClient, headers: dict[str, str], org: str, wid: str) -> None:
    reply = await client.post(
        f"/{org}/events/{wid}",
        params={"type": "worker", "agent_id": "x"},
        json={"id": "1", "event": "worker-heartbeat", "data": "2026-11-29T00:00:00Z"},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text


async def test_worker_registers_receives_a_task_and_reports_it(
    client: httpx.AsyncClient, headers: dict[str, str], org: str
) -> None:
    agent_id = await container_agent(client, headers)
    async with worker(client, headers, org, agent_id) as stream:
        kind, asset = await stream.next()
        assert kind == "worker-registration"
        assert asset["organization_id"] == org
        assert asset["type"] == "worker"
        invoked = await client.post(
            f"/v1/agents/{agent_id}/invoke/async",
            json={"input": {"text": "do it"}},
            headers=headers,
        )
        task_id = invoked.json()["id"]
        kind, task = await stream.next()
        assert kind == "agent-execution"
        assert task["id"] == task_id
        assert task["input"]["text"] == "do it"
        assert task["status"] == "executing"

        executing = await client.patch(
            f"/agent-execution/{task_id}/update", json={**task}, headers=headers
        )
        assert executing.json()["status"] == "executing"
        reported = await client.patch(
            f"/agent-execution/{task_id}/update",
            json={
                **task,
                "status": "completed",
                "result": "done by my code",
                "tokens": {"prompt_tokens": 40, "completion_tokens": 2, "total_tokens": 42},
            },
            headers=headers,
        )
        assert reported.status_code == 200, reported.text
    final = (await client.get(f"/v1/tasks/{task_id}", headers=headers)).json()
    assert final["status"] == "completed"
    assert final["result"] == "done by my code"
    assert final["tokens"]["total_tokens"] == 42
    assert final["execution_attempts"] == 1


@pytest.mark.short_lease
async def test_a_silent_worker_loses_its_task_to_the_next(
    client: httpx.AsyncClient, headers: dict[str, str], org: str
) -> None:
    agent_id = await container_agent(client, headers)
    invoked = await client.post(
        f"/v1/agents/{agent_id}/invoke/async", json={"input": {"text": "x"}}, headers=headers
    )
    task_id = invoked.json()["id"]
    async with worker(client, headers, org, agent_id) as first:
        await first.next()  # registration
        kind, _ = await first.next()
        assert kind == "agent-execution"
    # the first worker is gone without a word; it never heartbeats
    async with worker(client, headers, org, agent_id) as second:
        _, asset = await second.next()
        kind, task = await second.next(within_s=15)
        assert kind == "agent-execution"
        assert task["id"] == task_id
        assert task["execution_attempts"] == 2
        await beat(client, headers, org, asset["id"])


@pytest.mark.short_lease
async def test_heartbeats_keep_the_task(
    client: httpx.AsyncClient, headers: dict[str, str], org: str
) -> None:
    agent_id = await container_agent(client, headers)
    async with worker(client, headers, org, agent_id) as stream:
        _, asset = await stream.next()
        invoked = await client.post(
            f"/v1/agents/{agent_id}/invoke/async", json={"input": {"text": "x"}}, headers=headers
        )
        await stream.next()
        for _ in range(8):  # 4 s: well past the 1.5 s lease
            await beat(client, headers, org, asset["id"])
            await asyncio.sleep(0.5)  # noqa: TID251  # the server's leases run in real time
        task = (await client.get(f"/v1/tasks/{invoked.json()['id']}", headers=headers)).json()
        assert task["status"] == "executing"
        assert task["execution_attempts"] == 1


async def test_worker_for_an_agent_taskloom_runs_gets_a_conflict(
    client: httpx.AsyncClient, headers: dict[str, str], org: str
) -> None:
    created = await client.post("/v1/agents", json={"name": "ours"}, headers=headers)
    async with worker(client, headers, org, created.json()["id"]) as stream:
        kind, data = await stream.next()
    assert kind == "worker-environment-conflict"
    assert "container" in data["error"]


async def test_worker_routes_stay_in_the_callers_organization(
    client: httpx.AsyncClient, headers: dict[str, str], org: str, other_key: str
) -> None:
    agent_id = await container_agent(client, headers)
    other = {"x-api-key": other_key}
    reply = await client.get(f"/{org}/events/{agent_id}/", headers=other)
    assert reply.status_code == 404
    async with worker(client, headers, org, agent_id) as stream:
        _, asset = await stream.next()
        await client.post(
            f"/v1/agents/{agent_id}/invoke/async", json={"input": {"text": "x"}}, headers=headers
        )
        _, task = await stream.next()
        foreign = await client.patch(
            f"/agent-execution/{task['id']}/update",
            json={"status": "completed", "result": "not yours"},
            headers=other,
        )
        assert foreign.status_code == 404
    still = (await client.get(f"/v1/tasks/{task['id']}", headers=headers)).json()
    assert still["status"] == "executing"
    assert asset["organization_id"] == org
