"""`taskloom.client` against a real `taskloom serve`: typed replies, mapped errors, the long
poll, and event streams that resume with Last-Event-ID after the connection is cut."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from taskloom.client import (
    AsyncClient,
    Client,
    NotFound,
    StreamInterrupted,
    TaskStatus,
    TransportError,
    Unauthorized,
    ValidationFailed,
    Workflow,
)
from tests.cli.conftest import Server
from tests.support.server import free_port
from tests.support.workflows import code_node


def chain(name: str, *steps: str) -> dict[str, Any]:
    ids = [f"s{k}" for k in range(len(steps))]
    nodes = [
        code_node(node_id, body, next_ids=ids[k + 1 : k + 2])
        for k, (node_id, body) in enumerate(zip(ids, steps, strict=True))
    ]
    return {"name": name, "orchestration_nodes": nodes}


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with Client(server.base, server.key) as c:
        yield c


def deployed(client: Client, definition: dict[str, Any]) -> Workflow:
    return client.deploy_workflow(client.create_workflow(definition).id)


def test_workflow_round_trip(client: Client) -> None:
    created = client.create_workflow(chain("round-trip", "return input"))
    assert isinstance(created, Workflow)
    assert (created.version, created.has_pending_changes) == (0, True)
    updated = client.update_workflow(created.id, {"description": "d"}, deploy=True)
    assert (updated.version, updated.has_pending_changes) == (1, False)
    assert client.get_workflow(created.id).definition()["description"] == "d"
    [version] = client.workflow_versions(created.id)
    assert (version.version, version.is_latest) == (1, True)
    assert created.id in [w.id for w in client.list_workflows(per_page=50).items]
    client.delete_workflow(created.id)
    with pytest.raises(NotFound):
        client.get_workflow(created.id)


def test_errors_carry_the_api_detail(client: Client, server: Server) -> None:
    with pytest.raises(NotFound) as missing:
        client.get_task("no-such-task")
    assert missing.value.status_code == 404
    assert "no-such-task" in str(missing.value.detail)
    with pytest.raises(ValidationFailed) as invalid:
        client.create_workflow({"orchestration_nodes": []})
    assert isinstance(invalid.value.detail, list)
    with Client(server.base, "tlk_wrong") as stranger, pytest.raises(Unauthorized):
        stranger.list_tasks()


def test_unreachable_server_is_a_transport_error() -> None:
    with Client(f"http://127.0.0.1:{free_port()}") as nowhere, pytest.raises(TransportError):
        nowhere.list_workflows()


def test_invoke_answers_the_finished_task(client: Client) -> None:
    workflow = deployed(client, chain("sync", "return input.upper()"))
    task = client.invoke(workflow.id, "hi")
    assert (task.status, task.result) == (TaskStatus.COMPLETED, "HI")


def test_wait_long_polls_until_the_task_ends(client: Client) -> None:
    workflow = deployed(client, chain("waited", "import time\ntime.sleep(0.5)\nreturn input"))
    accepted = client.submit(workflow.id, "x")
    assert not accepted.status.is_terminal
    done = client.wait(accepted.id, timeout_s=30)
    assert done.status is TaskStatus.COMPLETED
    assert [run.node_id for run in done.node_runs or []] == ["s0"]


class _CutStream(httpx.SyncByteStream):
    """A real response body that breaks after `events` whole events, as a dropped
    connection would."""

    def __init__(self, inner: httpx.SyncByteStream, events: int) -> None:
        self._inner, self._events = inner, events

    def __iter__(self) -> Iterator[bytes]:
        left = self._events
        if left == 0:
            raise httpx.ReadError("connection cut by the test")
        for chunk in self._inner:
            ends = [i for i in range(len(chunk)) if chunk.startswith(b"\n\n", i)]
            if len(ends) >= left:
                yield chunk[: ends[left - 1] + 2]
                raise httpx.ReadError("connection cut by the test")
            left -= len(ends)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class CuttingTransport(httpx.BaseTransport):
    """The real transport, but event streams are cut: the n-th after `cuts[n]` events."""

    def __init__(self, *cuts: int) -> None:
        self._inner = httpx.HTTPTransport()
        self._cuts = list(cuts)
        self.resumed_from: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if not request.url.path.endswith("/events"):
            return response
        self.resumed_from.append(request.headers.get("Last-Event-ID"))
        if not self._cuts:
            return response
        assert isinstance(response.stream, httpx.SyncByteStream)
        cut = _CutStream(response.stream, self._cuts.pop(0))
        return httpx.Response(response.status_code, headers=response.headers, stream=cut)

    def close(self) -> None:
        self._inner.close()


def test_events_resume_after_a_cut_connection(client: Client, server: Server) -> None:
    workflow = deployed(client, chain("cut", "return input", "return input", "return input"))
    task = client.submit(workflow.id, "x")
    transport = CuttingTransport(2, 1)
    with Client(server.base, server.key, transport=transport) as cut:
        events = list(cut.events(task.id))
    # 3 connections: the first cut after events 1-2, the second after 3; none lost or repeated
    assert transport.resumed_from == [None, "2", "3"]
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == "task_finished"
    finished = events[-1].task()
    assert finished is not None
    assert finished.status is TaskStatus.COMPLETED
    assert [e.type for e in events].count("node_finished") == 3


def test_events_give_up_when_every_connection_breaks(client: Client, server: Server) -> None:
    workflow = deployed(client, chain("broken", "return input"))
    task = client.wait(client.submit(workflow.id, "x").id, timeout_s=30)
    transport = CuttingTransport(1, 0, 0)
    with Client(server.base, server.key, transport=transport) as cut:
        seen = []
        with pytest.raises(StreamInterrupted):
            seen.extend(cut.events(task.id, max_retries=2))
    assert [e.id for e in seen] == [1]
    assert transport.resumed_from == [None, "1", "1"]  # 2 retries, then it gives up


def test_events_skip_earlier_turns(client: Client) -> None:
    workflow = deployed(client, chain("turns", "return input"))
    first = client.invoke(workflow.id, "one")
    second = client.submit(workflow.id, "two", task_id=first.id)
    events = list(client.events(first.id, from_turn=second.turn))
    assert events[0].type == "task_created"
    created = events[0].task()
    assert created is not None
    assert created.turn == 2
    last = events[-1].task()
    assert last is not None
    assert last.result == "two"


def test_async_client_has_the_sync_surface() -> None:
    def surface(cls: type) -> dict[str, list[str]]:
        return {
            name: list(inspect.signature(member).parameters)
            for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")
        }

    assert surface(AsyncClient) == surface(Client)


async def test_async_client_invokes_waits_and_follows(server: Server) -> None:
    async with AsyncClient(server.base, server.key) as client:
        created = await client.create_workflow(chain("async", "return input[::-1]"))
        await client.deploy_workflow(created.id)
        accepted = await client.submit(created.id, "abc")
        done = await client.wait(accepted.id, timeout_s=30)
        assert done.result == "cba"
        types = [event.type async for event in client.events(accepted.id)]
    assert types[0] == "task_created"
    assert types[-1] == "task_finished"


def test_versions_are_listed_per_kind(client: Client) -> None:
    workflow = deployed(client, chain("versioned", "return input"))
    client.deploy_workflow(workflow.id)
    assert [v.version for v in client.workflow_versions(workflow.id)] == [1, 2]
    with pytest.raises(NotFound):
        client.agent_versions(workflow.id)  # a workflow is not an agent
    with pytest.raises(NotFound):
        client.workflow_versions("no-such-workflow")
