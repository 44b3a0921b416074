"""A poll served by one process sees a task finished by another the moment the finishing
transaction has committed: two real `taskloom serve` processes on one database, the first runs
the task, the second only answers API calls (its cached bytes of the task must not outlive the
commit). The sign that the commit happened is the first process's event stream delivering
`task_finished`, which it reads back from the committed log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_waits import waiting_workflow
from tests.e2e.sse_client import iter_events
from tests.support.server import Process, create_key, start_server

SETTINGS = {"lease_s": "5", "heartbeat_s": "0.5", "sweep_s": "0.5", "poll_s": "0.2"}


@pytest.fixture
def processes() -> Iterator[list[Process]]:
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


async def test_a_poll_on_another_process_right_after_the_finishing_commit_sees_it_finished(
    database_url: str, processes: list[Process], http: httpx.AsyncClient, tmp_path: Path
) -> None:
    key = await asyncio.to_thread(create_key, database_url, "acme")
    headers = {"x-api-key": key}
    runner, running_base = await asyncio.to_thread(
        start_server, database_url, tmp_path / "runner.log", **SETTINGS
    )
    processes.append(runner)
    reader, reading_base = await asyncio.to_thread(
        start_server, database_url, tmp_path / "reader.log", **SETTINGS, embedded_workers="false"
    )
    processes.append(reader)

    created = await http.post(
        f"{running_base}/v1/workflows", json=waiting_workflow(), headers=headers
    )
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    deployed = await http.put(f"{running_base}/v1/workflows/{workflow_id}", headers=headers)
    assert deployed.is_success, deployed.text
    invoked = await http.post(
        f"{running_base}/v1/workflows/{workflow_id}/invoke/async",
        json={"input": {"text": "refund"}},
        headers=headers,
    )
    assert invoked.status_code == 200, invoked.text
    task_id = invoked.json()["id"]
    polled = f"{reading_base}/v1/tasks/{task_id}"

    paused = await http.get(polled, params={"wait": 20}, headers=headers)
    assert paused.json()["status"] == "paused", paused.text
    # the reader now holds the paused task's bytes: its next polls are answered from them
    etag = paused.headers["etag"]
    assert (await http.get(polled, headers=headers)).json()["status"] == "paused"
    assert (await http.get(polled, headers={**headers, "if-none-match": etag})).status_code == 304

    async with http.stream(
        "GET", f"{running_base}/v1/tasks/{task_id}/events", headers=headers
    ) as stream:
        approved = await http.post(
            f"{running_base}/v1/tasks/{task_id}/approve",
            json={"decided_by": "ana"},
            headers=headers,
        )
        assert approved.status_code == 200, approved.text
        async with asyncio.timeout(60):
            async for event in iter_events(stream):
                if event.type == "task_finished":
                    break
    # the finishing transaction has committed: the very next poll on the reader shows it
    after = await http.get(polled, headers={**headers, "if-none-match": etag})
    assert after.status_code == 200, after.text
    assert (after.json()["status"], after.json()["result"]) == ("completed", "decided by ana")
    assert after.headers["etag"] != etag
    plain = await http.get(polled, headers=headers)
    assert plain.json()["status"] == "completed"
