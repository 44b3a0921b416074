"""A stream served by one process shows a task run by another (PostgreSQL only): two API-only
`taskloom serve` processes and one `taskloom worker`. The first API streams the invoke live
through to `task_finished`; the second resumes it mid-task with `Last-Event-ID`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.sse_client import Event, Stream, gaps, iter_events, read_stream
from tests.support.databases import fresh_pg_database
from tests.support.server import Process, create_key, start_server, start_worker
from tests.support.workflows import code_node

SETTINGS = {"lease_s": "5", "heartbeat_s": "0.5", "sweep_s": "0.5", "poll_s": "0.2"}
API_ONLY = {**SETTINGS, "embedded_workers": "false"}
NODES = 5
SLEEP_S = 0.5
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


@pytest.fixture
async def pg_url() -> str:
    return await fresh_pg_database()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[Process]]:
    """Every process a test starts; all SIGKILLed at teardown, their log tails printed."""
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in started:
            process.kill()
        for process in started:
            if process.log.exists():
                tail = process.log.read_text(errors="replace").splitlines()[-40:]
                print(f"----- {process.log.name} -----", *tail, sep="\n")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as client:
        yield client


async def api_only(pg_url: str, processes: list[Process], log: Path) -> str:
    server, base = await asyncio.to_thread(start_server, pg_url, log, **API_ONLY)
    processes.append(server)
    return base


async def test_stream_across_processes_shows_the_workers_events_live(
    pg_url: str, processes: list[Process], http: httpx.AsyncClient, tmp_path: Path
) -> None:
    key = await asyncio.to_thread(create_key, pg_url, "acme")
    headers = {"x-api-key": key}
    first = await api_only(pg_url, processes, tmp_path / "api-1.log")
    second = await api_only(pg_url, processes, tmp_path / "api-2.log")
    created = await http.post(f"{first}/v1/workflows", json=slow_chain(), headers=headers)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    assert (await http.put(f"{first}/v1/workflows/{workflow_id}", headers=headers)).is_success

    live: list[Event] = []
    resuming: asyncio.Task[Stream] | None = None
    status_at_cut: str | None = None
    async with (
        asyncio.timeout(90),
        asyncio.TaskGroup() as group,
        http.stream(
            "POST",
            f"{first}/v1/workflows/{workflow_id}/invoke/stream",
            json={"input": {"text": "go"}},
            headers=headers,
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in iter_events(response):
            live.append(event)
            if len(live) == 1:
                # nothing runs tasks yet: the task waits, pending, until the worker is up
                assert event.type == "task_created", event
                processes.append(start_worker(pg_url, tmp_path / "worker.log", **SETTINGS))
            if len(live) == CUT:
                task_id = event.task_id
                polled = await http.get(f"{second}/v1/tasks/{task_id}", headers=headers)
                status_at_cut = polled.json()["status"]
                resuming = group.create_task(
                    read_stream(
                        http,
                        "GET",
                        f"{second}/v1/tasks/{task_id}/events",
                        headers={**headers, "Last-Event-ID": str(CUT)},
                        within_s=60,
                    )
                )
    assert resuming is not None, [(e.id, e.type) for e in live]
    resumed = resuming.result()

    task_id = live[0].task_id
    full = await read_stream(http, "GET", f"{second}/v1/tasks/{task_id}/events", headers=headers)
    assert not gaps(full.events, first=1)
    assert live == full.events, f"live {[(e.id, e.type) for e in live]}; log {full.ids}"
    assert live[-1].type == "task_finished"
    assert live[-1].data["status"] == "completed", live[-1].data
    assert live[-1].data["result"] == "go" + "".join(f"|n{k}" for k in range(1, NODES + 1))
    assert status_at_cut == "executing", "events should arrive while the worker runs the task"

    assert resumed.status_code == 200, resumed.body
    assert resumed.closed_by_server
    assert resumed.events == full.events[CUT:], f"resumed {resumed.ids}; log {full.ids}"
