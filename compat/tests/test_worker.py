"""SDK worker mode (`@on_task`, docs/xpander-sdk.md): a user's own agent code, run by the official
SDK as a worker process, executes the tasks of a taskloom agent deployed as `container`.

Tasks are created through taskloom's public API and through the SDK; the worker registers on
taskloom's event stream, receives them, and reports their outcome. A worker killed with
SIGKILL stops heartbeating: its task goes to the next worker once its lease expires.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from xpander_sdk import (
    Agent,
    AgentExecutionStatus,
    Agents,
    Configuration,
    Task,
    Tasks,
    TaskUpdateEventType,
)

from support import TERMINAL, Server, eventually

WORKER_APP = Path(__file__).resolve().parent.parent / "workers" / "echo_worker.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Workers:
    """SDK worker processes of one test; all killed at teardown."""

    def __init__(self, server: Server, logs: Path) -> None:
        self._server = server
        self._logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, agent_id: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "XPANDER_BASE_URL": self._server.base_url,
            "XPANDER_API_KEY": self._server.api_key,
            "XPANDER_ORGANIZATION_ID": self._server.organization_id,
            "XPANDER_AGENT_ID": agent_id,
            "XPANDER_STREAMING_PORT": str(free_port()),  # its local /invoke server
        }
        log = (self._logs / f"worker-{len(self.started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, str(WORKER_APP)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        self.started.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def workers(server: Server, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(server, tmp_path)
    try:
        yield started
    finally:
        started.kill_all()
        for log in sorted(tmp_path.glob("worker-*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")  # noqa: T201  # shown for failing tests only


async def container_agent(http: httpx.AsyncClient, name: str) -> str:
    """An agent whose code the user runs (`deployment_type: container`), deployed."""
    created = await http.post(
        "/v1/agents",
        json={"name": name, "deployment_type": "container", "model_name": "own-code"},
    )
    assert created.status_code == 201, created.text
    agent_id: str = created.json()["id"]
    deployed = await http.put(f"/v1/agents/{agent_id}")
    assert deployed.status_code == 200, deployed.text
    return agent_id


async def settled(http: httpx.AsyncClient, task_id: str, *, within_s: float = 60) -> Any:
    async def check() -> dict[str, Any] | None:
        task = (await http.get(f"/v1/tasks/{task_id}")).json()
        return task if task["status"] in TERMINAL else None

    return await eventually(check, within_s=within_s)


async def test_worker_runs_tasks_created_through_the_api_and_the_sdk(
    http: httpx.AsyncClient, workers: Workers, config: Configuration
) -> None:
    agent_id = await container_agent(http, "own code")
    worker = workers.start(agent_id)

    through_api = await http.post(
        f"/v1/agents/{agent_id}/invoke/async", json={"input": {"text": "from the API"}}
    )
    assert through_api.status_code == 200, through_api.text
    done = await settled(http, through_api.json()["id"])
    assert done["status"] == "completed", done
    assert done["result"] == f"handled by {worker.pid}: from the API"

    through_sdk = await Tasks(configuration=config).acreate(
        agent_id=agent_id, prompt="from the SDK"
    )

    async def sdk_done() -> Any:
        task = await Tasks(configuration=config).aget(task_id=through_sdk.id)
        return task if task.status in (AgentExecutionStatus.Completed,) else None

    task = await eventually(sdk_done, within_s=60)
    assert task.result == f"handled by {worker.pid}: from the SDK"


async def test_a_lost_worker_hands_its_task_on(http: httpx.AsyncClient, workers: Workers) -> None:
    agent_id = await container_agent(http, "own code, fragile")
    first = workers.start(agent_id)
    started = await http.post(
        f"/v1/agents/{agent_id}/invoke/async", json={"input": {"text": "nap 6 then answer"}}
    )
    task_id = started.json()["id"]

    async def executing() -> bool | None:
        task = (await http.get(f"/v1/tasks/{task_id}")).json()
        return True if task["status"] == "executing" else None

    await eventually(executing)
    first.send_signal(signal.SIGKILL)  # no goodbye, no more heartbeats
    first.wait(timeout=10)
    second = workers.start(agent_id)

    done = await settled(http, task_id, within_s=90)
    assert done["status"] == "completed", done
    assert done["result"] == f"handled by {second.pid}: nap 6 then answer"
    assert done["execution_attempts"] == 2


async def test_agents_aget_and_acreate_task_on_a_taskloom_agent(
    http: httpx.AsyncClient, workers: Workers, config: Configuration
) -> None:
    agent_id = await container_agent(http, "own code, via Agent")
    worker = workers.start(agent_id)

    agent = await Agents(configuration=config).aget(agent_id=agent_id)
    assert isinstance(agent, Agent)
    assert agent.id == agent_id
    assert agent.model_name == "own-code"
    assert agent.deployment_type.value == "container"
    assert agent_id in [item.id for item in await Agents(configuration=config).alist()]

    task = await agent.acreate_task(prompt="through Agent", events_streaming=True)
    async with asyncio.timeout(60):
        events = [event async for event in task.aevents()]
    assert events[-1].type == TaskUpdateEventType.TaskFinished
    assert isinstance(events[-1].data, Task)
    assert events[-1].data.result == f"handled by {worker.pid}: through Agent"
    assert task.source == "sdk"
