"""SSE streams (docs/events.md): invoke/stream, attaching with GET /v1/tasks/{id}/events, and
resuming after `Last-Event-ID`.

The app runs behind a real uvicorn on loopback here: httpx's ASGITransport collects a whole
response before handing it over, so a stream could neither be read live nor cut mid-task.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from taskloom.config import Settings
from tests.conftest import DeployWorkflow
from tests.e2e.sse_client import gaps, read_stream
from tests.support.live_app import live_client
from tests.support.workflows import code_node, w1


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Overrides the shared fixture: the same app and lifespan, served over real HTTP."""
    async with live_client(settings) as http:
        yield http


def slow_chain(nodes: int, sleep_s: float) -> dict[str, Any]:
    """`nodes` code nodes in a row, each sleeping `sleep_s` and appending `|nK`."""
    ids = [f"n{k}" for k in range(1, nodes + 1)]
    return {
        "name": "slow-chain",
        "output_format": "text",
        "orchestration_nodes": [
            code_node(
                node_id,
                f"import time\ntime.sleep({sleep_s})\nreturn input + '|{node_id}'",
                next_ids=ids[k + 1 : k + 2],
            )
            for k, node_id in enumerate(ids)
        ],
    }


async def invoke_async(
    client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, text: str
) -> str:
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async", json={"input": {"text": text}}, headers=headers
    )
    assert reply.status_code == 200, reply.text
    task_id: str = reply.json()["id"]
    return task_id


async def test_invoke_stream_w1_emits_every_event_in_order(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    stream = await read_stream(
        client,
        "POST",
        f"/v1/workflows/{workflow_id}/invoke/stream",
        headers=headers,
        json_body={"input": {"text": "hello 7"}},
    )

    assert stream.status_code == 200, stream.body
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.closed_by_server, "the server should close the stream after task_finished"
    assert not gaps(stream.events, first=1)
    nodes = ["upper", "append", "count"]
    assert stream.types == [
        "task_created",
        "task_updated",
        *[kind for _ in nodes for kind in ("node_started", "node_finished")],
        "task_finished",
    ]
    created, updated, *node_events, finished = stream.events
    task_id = created.task_id
    assert {event.task_id for event in stream.events} == {task_id}
    for event in stream.events:
        assert datetime.fromisoformat(event.time.replace("Z", "+00:00")).tzinfo is not None
        allowed = {"type", "task_id", "organization_id", "time", "data", "identity"}
        assert event.envelope.keys() <= allowed, event.envelope.keys()

    assert created.data["id"] == task_id
    assert created.data["status"] == "pending"
    assert created.data["result"] is None
    assert updated.data["status"] == "executing"
    assert [(e.type, e.data["node_id"]) for e in node_events] == [
        (kind, node) for node in nodes for kind in ("node_started", "node_finished")
    ]
    assert all(e.data["status"] == "completed" for e in node_events if e.type == "node_finished")

    assert finished.data["status"] == "completed"
    assert json.loads(finished.data["result"]) == {"text": "HELLO 7 world", "chars": 13}
    assert finished.data["finished_at"] is not None
    task = (await client.get(f"/v1/tasks/{task_id}", headers=headers)).json()
    task.pop("node_runs")
    assert finished.data == task, "task_finished should carry the completed task"
    assert {event.organization_id for event in stream.events} == {task["organization_id"]}


async def test_task_events_resume_after_last_event_id_continues_without_gap(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(slow_chain(4, 0.3))
    cut_after = 4  # task_created, task_updated, node_started n1, node_finished n1
    cut = await read_stream(
        client,
        "POST",
        f"/v1/workflows/{workflow_id}/invoke/stream",
        headers=headers,
        json_body={"input": {"text": "go"}},
        limit=cut_after,
    )
    assert cut.status_code == 200, cut.body
    assert cut.ids == [1, 2, 3, 4]
    task_id = cut.events[0].task_id

    resumed = await read_stream(
        client,
        "GET",
        f"/v1/tasks/{task_id}/events",
        headers={**headers, "Last-Event-ID": str(cut_after)},
        within_s=60,
    )
    assert resumed.status_code == 200, resumed.body
    assert resumed.closed_by_server
    full = await read_stream(client, "GET", f"/v1/tasks/{task_id}/events", headers=headers)
    assert full.closed_by_server, "a finished task's events replay and the stream closes"

    assert not gaps(full.events, first=1)
    assert full.types[-1] == "task_finished"
    assert full.events[-1].data["result"] == "go|n1|n2|n3|n4"
    assert cut.events == full.events[:cut_after]
    assert resumed.events == full.events[cut_after:], (
        f"resumed {resumed.ids} after {cut_after}, full log {full.ids}"
    )


@pytest.mark.parametrize(
    "last_event_id",
    [b"abc", b"-1", b"1.5", b"0x10", b"\xb2"],
    ids=["letters", "negative", "decimal", "hex", "superscript_two"],
)
async def test_task_events_bad_last_event_id_is_422(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    last_event_id: bytes,
) -> None:
    workflow_id = await deploy_workflow(w1())
    task_id = await invoke_async(client, headers, workflow_id, "x")
    raw = [(name.encode(), value.encode()) for name, value in headers.items()]
    reply = await client.get(
        f"/v1/tasks/{task_id}/events", headers=[*raw, (b"Last-Event-ID", last_event_id)]
    )
    assert reply.status_code == 422, (reply.status_code, reply.text)


async def test_task_events__other_org_is_not_found(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    workflow_id = await deploy_workflow(w1())
    task_id = await invoke_async(client, headers, workflow_id, "x")
    for extra in ({}, {"Last-Event-ID": "1"}):
        reply = await client.get(
            f"/v1/tasks/{task_id}/events", headers={"x-api-key": other_key, **extra}
        )
        assert reply.status_code == 404, reply.text
