"""A stream cut by a server crash resumes with `Last-Event-ID` on the restarted server: the
rest of the task's events arrive, none missing and none twice, through to `task_finished`.

Real `taskloom serve` processes on one database (a SQLite file, then PostgreSQL); the first
is SIGKILLed mid-task, and the restarted one's sweeper takes the task back once its lease ran
out (short leases below), then runs it to the end from its checkpoints.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.sse_client import Event, Stream, gaps, iter_events, read_stream
from tests.support.server import Process, create_key, start_server
from tests.support.workflows import code_node

pytestmark = pytest.mark.crash

FAST_LEASES = {"lease_s": "2", "heartbeat_s": "0.5", "sweep_s": "0.5", "poll_s": "0.2"}
NODES = 6
SLEEP_S = 0.3
CUT = 4  # task_created, task_updated, node_started n1, node_finished n1


def slow_chain() -> dict[str, Any]:
    ids = [f"n{k}" for k in range(1, NODES + 1)]
    return {
        "name": "slow-chain",
        "output_format": "text",
        "orchestration_nodes": [
            code_node(
                node_id,
                f"import time\ntime.sleep({SLEEP_S})\nreturn input + '|{node_id}'",
                next_ids=ids[k + 1 : k + 2],
            )
            for k, node_id in enumerate(ids)
        ],
    }


class Servers:
    """The `taskloom serve` processes of one test; all SIGKILLed at teardown."""

    def __init__(self, database_url: str, logs: Path) -> None:
        self.database_url = database_url
        self.logs = logs
        self.started: list[Process] = []

    async def start(self, **settings: str) -> tuple[Process, str]:
        log = self.logs / f"serve-{len(self.started) + 1}.log"
        server, base = await asyncio.to_thread(start_server, self.database_url, log, **settings)
        self.started.append(server)
        return server, base

    def kill_all(self) -> None:
        for process in self.started:
            process.kill()

    def print_logs(self) -> None:
        for process in self.started:
            if process.log.exists():
                tail = process.log.read_text(errors="replace").splitlines()[-40:]
                print(f"----- {process.log.name} -----", *tail, sep="\n")


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[Servers]:
    running = Servers(database_url, tmp_path)
    try:
        yield running
    finally:
        running.kill_all()
        running.print_logs()  # shown by pytest for failing tests only


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


async def deploy(http: httpx.AsyncClient, base: str, headers: dict[str, str]) -> str:
    created = await http.post(f"{base}/v1/workflows", json=slow_chain(), headers=headers)
    assert created.status_code == 201, created.text
    workflow_id: str = created.json()["id"]
    deployed = await http.put(f"{base}/v1/workflows/{workflow_id}", headers=headers)
    assert deployed.status_code == 200, deployed.text
    return workflow_id


async def stream_until_killed(
    http: httpx.AsyncClient, base: str, headers: dict[str, str], workflow_id: str, server: Process
) -> list[Event]:
    """Stream an invoke; SIGKILL the server once `CUT` events are in, then read whatever
    else still arrives until the connection breaks."""
    received: list[Event] = []
    async with (
        asyncio.timeout(60),
        http.stream(
            "POST",
            f"{base}/v1/workflows/{workflow_id}/invoke/stream",
            json={"input": {"text": "go"}},
            headers=headers,
        ) as response,
    ):
        assert response.status_code == 200
        try:
            async for event in iter_events(response):
                received.append(event)
                if len(received) == CUT:
                    await asyncio.to_thread(server.kill)
        except httpx.TransportError:
            pass  # the server died mid-stream, as intended
    assert len(received) >= CUT, [(e.id, e.type) for e in received]
    assert "task_finished" not in [e.type for e in received], "the crash came too late"
    return received


async def crash_and_resume(
    servers: Servers, http: httpx.AsyncClient, **settings: str
) -> tuple[list[Event], Stream, Stream]:
    """Events seen before the crash, the resumed stream, and a full replay afterwards."""
    key = await asyncio.to_thread(create_key, servers.database_url, "acme")
    headers = {"x-api-key": key}
    first, base = await servers.start(**FAST_LEASES, **settings)
    workflow_id = await deploy(http, base, headers)
    before = await stream_until_killed(http, base, headers, workflow_id, first)
    task_id = before[0].task_id

    _, base = await servers.start(**FAST_LEASES, **settings)
    resumed = await read_stream(
        http,
        "GET",
        f"{base}/v1/tasks/{task_id}/events",
        headers={**headers, "Last-Event-ID": str(before[-1].id)},
        within_s=90,
    )
    assert resumed.status_code == 200, resumed.body
    full = await read_stream(http, "GET", f"{base}/v1/tasks/{task_id}/events", headers=headers)
    assert full.status_code == 200, full.body
    return before, resumed, full


async def test_stream_resume_across_restart_continues_without_gap(
    servers: Servers, http: httpx.AsyncClient
) -> None:
    before, resumed, full = await crash_and_resume(servers, http)

    assert resumed.closed_by_server
    assert not gaps(full.events, first=1)
    assert before == full.events[: len(before)]
    assert resumed.events == full.events[len(before) :], (
        f"resumed after {before[-1].id}: {resumed.ids}; full log {full.ids}"
    )
    finished = full.events[-1]
    assert finished.type == "task_finished", full.types
    assert full.types.count("task_finished") == 1
    assert finished.data["status"] == "completed", finished.data
    assert finished.data["result"] == "go" + "".join(f"|n{k}" for k in range(1, NODES + 1))
    assert finished.data["execution_attempts"] == 2, "the restarted server ran a second attempt"


async def test_stream_resume_across_restart_ends_with_task_finished__worker_lost(
    servers: Servers, http: httpx.AsyncClient
) -> None:
    """With max_attempts=1 the restarted server's sweeper fails the task (`worker_lost`):
    that end is an event like any other, so the stream still ends with `task_finished`."""
    before, resumed, full = await crash_and_resume(servers, http, max_attempts="1")

    assert resumed.closed_by_server
    assert not gaps(full.events, first=1)
    assert resumed.events == full.events[len(before) :]
    summary = [(e.id, e.type, e.data.get("status")) for e in full.events]
    assert full.types[-1] == "task_finished", summary
    finished = full.events[-1].data
    assert (finished["status"], finished["status_reason"]) == ("failed", "worker_lost"), summary
