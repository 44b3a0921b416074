"""Multi-turn conversations (docs/api.md): invoking with an existing task id continues
it; a turn sent while another runs is rejected (409) or queued (`busy=enqueue`)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import httpx
import pytest

from taskloom.store import turns as turn_store
from taskloom.store.database import Database
from tests.conftest import DeployWorkflow
from tests.e2e.sse_client import TERMINAL, Event, gaps, read_stream
from tests.support.waiting import eventually
from tests.support.workflows import code_node


def echo(sleep_s: float = 0.0, **extra: Any) -> dict[str, Any]:
    """One code node answering `echo:<input>`; the first turn ("one") sleeps `sleep_s` first,
    so later turns arrive while it runs, and then run quickly."""
    body = "return 'echo:' + input"
    if sleep_s:
        body = f"if input == 'one':\n    import time\n    time.sleep({sleep_s})\n{body}"
    return {
        "name": "echo",
        "output_format": "text",
        "orchestration_nodes": [code_node("reply", body)],
        **extra,
    }


async def turn(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    workflow_id: str,
    text: str,
    *,
    task_id: str | None = None,
    mode: str = "",  # "" (sync) or "/async"
    params: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"input": {"text": text}}
    if task_id is not None:
        body["id"] = task_id
    return await client.post(
        f"/v1/workflows/{workflow_id}/invoke{mode}", json=body, headers=headers, params=params
    )


async def get_task(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: str, **params: str
) -> dict[str, Any]:
    reply = await client.get(f"/v1/tasks/{task_id}", headers=headers, params=params)
    assert reply.status_code == 200, reply.text
    task: dict[str, Any] = reply.json()
    return task


async def thread_of(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: str
) -> list[tuple[str, str]]:
    reply = await client.get(f"/v1/tasks/{task_id}/thread", headers=headers)
    assert reply.status_code == 200, reply.text
    return [(m["role"], m["content"]) for m in reply.json()]


async def settled_at_turn(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: str, wanted: int
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        task = await get_task(client, headers, task_id, wait="5")
        return task if task["turn"] == wanted and task["status"] in TERMINAL else None

    return await eventually(check, timeout=30)


async def test_conversation_three_turns_build_the_thread(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(echo())
    first = await turn(client, headers, workflow_id, "one")
    assert first.status_code == 200, first.text
    task_id = first.json()["id"]
    for number, text in enumerate(("two", "three"), start=2):
        reply = await turn(client, headers, workflow_id, text, task_id=task_id)
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        assert answer["id"] == task_id
        assert answer["status"] == "completed", answer
        assert answer["result"] == f"echo:{text}"
        assert answer["turn"] == number

    task = await get_task(client, headers, task_id)
    assert task["input"]["text"] == "three"
    assert task["result"] == "echo:three"
    assert task["status"] == "completed"
    assert task["turn"] == 3
    assert task["execution_attempts"] == 1
    runs: defaultdict[int, list[str]] = defaultdict(list)
    for run in task["node_runs"]:
        runs[run["turn"]].append(run["node_id"])
    assert runs[3] == ["reply"], task["node_runs"]
    assert all(nodes == ["reply"] for nodes in runs.values()), task["node_runs"]

    reply = await client.get(f"/v1/tasks/{task_id}/thread", headers=headers)
    assert reply.status_code == 200, reply.text
    messages = reply.json()
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "one"),
        ("assistant", "echo:one"),
        ("user", "two"),
        ("assistant", "echo:two"),
        ("user", "three"),
        ("assistant", "echo:three"),
    ]
    stamps = [m["created_at"] for m in messages]
    assert all(type(stamp) is int for stamp in stamps), stamps
    assert stamps == sorted(stamps), stamps
    assert len({m["id"] for m in messages}) == len(messages)

    full = await client.get(f"/v1/tasks/{task_id}/thread/full", headers=headers)
    assert full.status_code == 200, full.text
    assert full.json() == {"root": messages}


async def test_conversation_node_runs_count_attempts_within_their_turn(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    """Each turn is its own execution: its first attempt is attempt 1, in the task's
    `execution_attempts` and in the trace of the nodes it ran alike."""
    workflow_id = await deploy_workflow(echo())
    task_id = (await turn(client, headers, workflow_id, "one")).json()["id"]
    second = await turn(client, headers, workflow_id, "two", task_id=task_id)
    assert second.json()["status"] == "completed", second.text

    task = await get_task(client, headers, task_id)
    assert task["execution_attempts"] == 1
    attempts = [(run["turn"], run["attempt"]) for run in task["node_runs"]]
    assert attempts == [(1, 1), (2, 1)], attempts


async def test_conversation_follow_up_stream_starts_with_task_created(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(echo())
    first = await turn(client, headers, workflow_id, "one")
    task_id = first.json()["id"]
    before = await read_stream(client, "GET", f"/v1/tasks/{task_id}/events", headers=headers)
    assert before.closed_by_server
    assert before.types[-1] == "task_finished"

    stream = await read_stream(
        client,
        "POST",
        f"/v1/workflows/{workflow_id}/invoke/stream",
        headers=headers,
        json_body={"id": task_id, "input": {"text": "two"}},
    )
    assert stream.status_code == 200, stream.body
    assert stream.closed_by_server
    assert {event.task_id for event in stream.events} == {task_id}
    assert not gaps(stream.events, first=len(before.events) + 1)
    assert stream.types[0] == "task_created"
    assert stream.types.count("task_created") == 1
    assert stream.types.count("task_finished") == 1
    assert stream.types[-1] == "task_finished"
    created, finished = stream.events[0].data, stream.events[-1].data
    assert (created["id"], created["status"], created["turn"]) == (task_id, "pending", 2)
    assert created["input"]["text"] == "two"
    assert created["result"] is None
    assert (finished["status"], finished["result"], finished["turn"]) == (
        "completed",
        "echo:two",
        2,
    )


async def test_conversation_turn_while_running_is_conflict(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(echo(sleep_s=1.0))
    first = await turn(client, headers, workflow_id, "one", mode="/async")
    task_id = first.json()["id"]

    busy = await turn(client, headers, workflow_id, "two", task_id=task_id, mode="/async")
    assert busy.status_code == 409, busy.text

    task = await settled_at_turn(client, headers, task_id, 1)
    assert (task["status"], task["result"]) == ("completed", "echo:one")
    assert task["input"]["text"] == "one"
    assert await thread_of(client, headers, task_id) == [
        ("user", "one"),
        ("assistant", "echo:one"),
    ], "a rejected turn leaves no trace"


@pytest.mark.parametrize("how", ["query", "workflow_policy"])
async def test_conversation_turn_while_running_is_enqueued(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow, how: str
) -> None:
    if how == "query":
        workflow_id = await deploy_workflow(echo(sleep_s=0.5))
        params = {"busy": "enqueue"}
    else:
        policy = {"task_level_strategies": {"busy_policy": "enqueue"}}
        workflow_id = await deploy_workflow(echo(sleep_s=0.5, **policy))
        params = {}
    first = await turn(client, headers, workflow_id, "one", mode="/async")
    task_id = first.json()["id"]

    queued = await turn(
        client, headers, workflow_id, "two", task_id=task_id, mode="/async", params=params
    )
    assert queued.status_code == 200, queued.text
    assert queued.json()["id"] == task_id

    task = await settled_at_turn(client, headers, task_id, 2)
    assert (task["status"], task["result"]) == ("completed", "echo:two")
    assert task["input"]["text"] == "two"
    assert await thread_of(client, headers, task_id) == [
        ("user", "one"),
        ("assistant", "echo:one"),
        ("user", "two"),
        ("assistant", "echo:two"),
    ]
    first_run, second_run = task["node_runs"]
    assert (first_run["turn"], second_run["turn"]) == (1, 2)
    assert second_run["started_at"] >= first_run["finished_at"], "the queued turn ran after"


async def test_conversation_turns_enqueued_together_all_run(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    """Messages sent at once while the first turn runs (a chat user typing fast)."""
    workflow_id = await deploy_workflow(echo(sleep_s=1.0))
    task_id = (await turn(client, headers, workflow_id, "one", mode="/async")).json()["id"]
    texts = [f"more {k}" for k in range(6)]

    replies = await asyncio.gather(
        *(
            turn(
                client,
                headers,
                workflow_id,
                text,
                task_id=task_id,
                mode="/async",
                params={"busy": "enqueue"},
            )
            for text in texts
        ),
        return_exceptions=True,
    )
    outcomes = [r.status_code if isinstance(r, httpx.Response) else repr(r) for r in replies]
    assert outcomes == [200] * len(texts), outcomes

    await settled_at_turn(client, headers, task_id, 1 + len(texts))
    thread = await thread_of(client, headers, task_id)
    assert thread[:2] == [("user", "one"), ("assistant", "echo:one")]
    pairs = {(thread[k][1], thread[k + 1][1]) for k in range(2, len(thread), 2)}
    assert pairs == {(text, f"echo:{text}") for text in texts}, thread


async def test_conversation_sync_enqueued_turn_answers_with_its_own_result(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    database_url: str,
) -> None:
    """A sync invoke queued behind a running turn answers once *its* turn is done, with its
    result, even when another turn is queued behind it."""
    workflow_id = await deploy_workflow(echo(sleep_s=1.0))
    task_id = (await turn(client, headers, workflow_id, "one", mode="/async")).json()["id"]
    async with Database(database_url) as db, asyncio.timeout(60), asyncio.TaskGroup() as group:
        waiting = group.create_task(
            turn(client, headers, workflow_id, "two", task_id=task_id, params={"busy": "enqueue"})
        )

        async def queued_turns() -> int | None:
            async with db.read() as conn:
                turns = await turn_store.list_turns(conn, task_id=task_id)
            return len(turns) if len(turns) == 2 else None

        await eventually(queued_turns, timeout=30)  # "two" is queued as turn 2
        third = await turn(
            client,
            headers,
            workflow_id,
            "three",
            task_id=task_id,
            mode="/async",
            params={"busy": "enqueue"},
        )
        assert third.status_code == 200, third.text

    reply = waiting.result()
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert (answer["turn"], answer["result"]) == (2, "echo:two"), (
        answer["turn"],
        answer["input"],
        answer["result"],
    )


async def test_conversation_busy_policy_follows_the_deployed_version(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    """A policy staged in the draft (PATCH without deploy) is not live yet (docs/api.md)."""
    workflow_id = await deploy_workflow(echo(sleep_s=1.0))
    staged = await client.patch(
        f"/v1/workflows/{workflow_id}",
        json={"task_level_strategies": {"busy_policy": "enqueue"}},
        headers=headers,
    )
    assert staged.status_code == 200, staged.text
    assert staged.json()["has_pending_changes"] is True

    first = await turn(client, headers, workflow_id, "one", mode="/async")
    task_id = first.json()["id"]
    busy = await turn(client, headers, workflow_id, "two", task_id=task_id, mode="/async")
    assert busy.status_code == 409, (busy.status_code, busy.text)


async def test_conversation_enqueued_turn_stream_shows_its_own_turn(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    """The stream of a queued turn starts with that turn's task_created and ends with its
    task_finished: a client stops at the first task_finished (docs/events.md)."""
    workflow_id = await deploy_workflow(echo(sleep_s=0.5))
    first = await turn(client, headers, workflow_id, "one", mode="/async")
    task_id = first.json()["id"]

    stream = await read_stream(
        client,
        "POST",
        f"/v1/workflows/{workflow_id}/invoke/stream?busy=enqueue",
        headers=headers,
        json_body={"id": task_id, "input": {"text": "two"}},
    )
    assert stream.status_code == 200, stream.body
    summary = _summary(stream.events)
    assert stream.types[0] == "task_created", summary
    assert stream.events[0].data["turn"] == 2, summary
    assert stream.types.count("task_finished") == 1, summary
    assert stream.types[-1] == "task_finished", summary
    assert stream.events[-1].data["result"] == "echo:two", summary


async def test_conversation_stream_ends_at_its_turn__next_turn_queued(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    """The stream of turn 1 ends with turn 1's task_finished, even when a queued turn 2
    starts in the same breath (docs/events.md: the stream ends after task_finished)."""
    workflow_id = await deploy_workflow(echo(sleep_s=1.0))
    async with asyncio.timeout(60), asyncio.TaskGroup() as group:
        streaming = group.create_task(
            read_stream(
                client,
                "POST",
                f"/v1/workflows/{workflow_id}/invoke/stream",
                headers=headers,
                json_body={"input": {"text": "one"}},
            )
        )

        async def the_task() -> str | None:
            found = (await client.get("/v1/tasks", headers=headers)).json()["items"]
            return found[0]["id"] if found else None

        task_id = await eventually(the_task, timeout=30)
        queued = await turn(
            client,
            headers,
            workflow_id,
            "two",
            task_id=task_id,
            mode="/async",
            params={"busy": "enqueue"},
        )
        assert queued.status_code == 200, queued.text
    stream = streaming.result()
    await settled_at_turn(client, headers, task_id, 2)

    summary = _summary(stream.events)
    assert stream.types.count("task_finished") == 1, summary
    assert stream.types[-1] == "task_finished", summary
    assert stream.events[-1].data["result"] == "echo:one", summary


async def test_conversation_turn__other_org_task_is_left_untouched(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    workflow_id = await deploy_workflow(echo())
    task_id = (await turn(client, headers, workflow_id, "one")).json()["id"]
    other = {"x-api-key": other_key}
    their_workflow = await client.post("/v1/workflows", json=echo(), headers=other)
    their_id = their_workflow.json()["id"]
    assert (await client.put(f"/v1/workflows/{their_id}", headers=other)).status_code == 200

    hijack = await turn(client, other, their_id, "mine now", task_id=task_id)
    assert hijack.status_code in (404, 409), hijack.text
    task = await get_task(client, headers, task_id)
    assert (task["turn"], task["input"]["text"], task["result"]) == (1, "one", "echo:one")
    assert await thread_of(client, headers, task_id) == [("user", "one"), ("assistant", "echo:one")]


async def test_conversation_thread__other_org_is_not_found(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    workflow_id = await deploy_workflow(echo())
    task_id = (await turn(client, headers, workflow_id, "one")).json()["id"]
    for path in ("thread", "thread/full"):
        reply = await client.get(f"/v1/tasks/{task_id}/{path}", headers={"x-api-key": other_key})
        assert reply.status_code == 404, reply.text


def _summary(events: list[Event]) -> list[tuple[int, str, Any]]:
    """(id, type, turn) of each event, for failure messages."""
    return [
        (e.id, e.type, e.data.get("turn") if isinstance(e.data, dict) else None) for e in events
    ]


async def test_conversation_turn__unknown_task_id_is_not_found(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    # an `id` continues a conversation (docs/api.md): one the organization never had is 404,
    # exactly as another organization's is, and starts nothing
    workflow_id = await deploy_workflow(echo())
    reply = await turn(client, headers, workflow_id, "one", task_id="never-issued", mode="/async")
    assert reply.status_code == 404, reply.text
    assert reply.json() == {"detail": "task never-issued not found"}
    assert (await client.get("/v1/tasks", headers=headers)).json()["total"] == 0
