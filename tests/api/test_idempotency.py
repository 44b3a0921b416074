"""`Idempotency-Key` on invoke (docs/api.md): per organization, the same key and body within
24 h answer with the original task and start no new run; another body is a conflict."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import DeployWorkflow
from tests.e2e.sse_client import read_stream
from tests.support.workflows import w1


async def invoke(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    workflow_id: str,
    body: dict[str, Any],
    key: str,
) -> httpx.Response:
    return await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        json=body,
        headers={**headers, "Idempotency-Key": key},
    )


async def tasks_total(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    reply = await client.get("/v1/tasks", headers=headers)
    assert reply.status_code == 200, reply.text
    total: int = reply.json()["total"]
    return total


async def finished(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: str
) -> dict[str, Any]:
    reply = await client.get(f"/v1/tasks/{task_id}", headers=headers, params={"wait": "30"})
    assert reply.status_code == 200, reply.text
    task: dict[str, Any] = reply.json()
    assert task["status"] == "completed", task
    return task


async def test_idempotent_invoke_replays_the_original_task(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    body = {"input": {"text": "pay 10"}, "title": "invoice 7"}
    first = await invoke(client, headers, workflow_id, body, "key-1")
    assert first.status_code == 200, first.text
    task_id = first.json()["id"]
    original = await finished(client, headers, task_id)

    again = await invoke(client, headers, workflow_id, body, "key-1")
    assert again.status_code == 200, again.text
    assert again.json()["id"] == task_id
    assert again.json()["status"] == "completed", "the original task, as it stands now"
    assert await tasks_total(client, headers) == 1
    after = await finished(client, headers, task_id)
    assert after["node_runs"] == original["node_runs"], "no second run"
    assert after["turn"] == 1


async def test_idempotent_invoke_different_body_is_conflict(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    first = await invoke(client, headers, workflow_id, {"input": {"text": "a"}}, "key-2")
    assert first.status_code == 200, first.text

    other = await invoke(client, headers, workflow_id, {"input": {"text": "b"}}, "key-2")
    assert other.status_code == 409, other.text
    assert await tasks_total(client, headers) == 1


async def test_idempotent_invoke__other_org_same_key_is_independent(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    body = {"input": {"text": "same"}}
    ours = await invoke(client, headers, await deploy_workflow(w1()), body, "shared-key")
    assert ours.status_code == 200, ours.text

    other = {"x-api-key": other_key}
    created = await client.post("/v1/workflows", json=w1(), headers=other)
    their_workflow = created.json()["id"]
    assert (await client.put(f"/v1/workflows/{their_workflow}", headers=other)).status_code == 200
    theirs = await invoke(client, other, their_workflow, body, "shared-key")
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["id"] != ours.json()["id"]
    assert theirs.json()["organization_id"] != ours.json()["organization_id"]
    await finished(client, other, theirs.json()["id"])
    assert await tasks_total(client, headers) == 1
    assert await tasks_total(client, other) == 1


async def test_idempotent_invoke__concurrent_retries_share_one_task(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    """A client that retries before the first answer came back (a timeout, a flaky proxy)."""
    workflow_id = await deploy_workflow(w1())
    body = {"input": {"text": "once"}}
    replies = await asyncio.gather(
        *(invoke(client, headers, workflow_id, body, "key-race") for _ in range(4)),
        return_exceptions=True,
    )
    outcomes = [
        (r.status_code, r.json().get("id")) if isinstance(r, httpx.Response) else repr(r)
        for r in replies
    ]
    assert all(isinstance(o, tuple) and o[0] == 200 for o in outcomes), outcomes
    assert len({o[1] for o in outcomes if isinstance(o, tuple)}) == 1, outcomes
    assert await tasks_total(client, headers) == 1


async def test_idempotent_invoke_stream_replays_the_original_events(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())

    async def stream() -> Any:
        return await read_stream(
            client,
            "POST",
            f"/v1/workflows/{workflow_id}/invoke/stream",
            headers={**headers, "Idempotency-Key": "key-stream"},
            json_body={"input": {"text": "hi"}},
        )

    first = await stream()
    assert first.status_code == 200, first.body
    assert first.types[-1] == "task_finished"
    again = await stream()
    assert again.status_code == 200, again.body
    assert again.events == first.events
    assert await tasks_total(client, headers) == 1
