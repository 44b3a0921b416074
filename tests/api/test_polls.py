"""Polling a task (`GET /v1/tasks/{id}`): the ETag and its 304, and the shortcut that answers an
unchanged task before routing (api/polls.py) staying exactly as fresh and as scoped as the
route. A paused task stands still until the test approves it, so every step is an event."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.test_waits import settle, start, waiting_workflow
from tests.conftest import DeployWorkflow


async def poll(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: str, etag: str | None = None
) -> httpx.Response:
    extra = {"if-none-match": etag} if etag is not None else {}
    return await client.get(f"/v1/tasks/{task_id}", headers={**headers, **extra})


async def paused_task(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> dict[str, Any]:
    task = await start(client, headers, await deploy_workflow(waiting_workflow()))
    assert task["status"] == "paused"
    return task


async def test_an_unchanged_task_answers_304_to_its_etag_and_200_once_it_changed(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task = await paused_task(client, headers, deploy_workflow)
    first = await poll(client, headers, task["id"])
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert first.json() == task
    again = await poll(client, headers, task["id"])  # rendered before: the shortcut's answer
    assert (again.status_code, again.headers["etag"], again.content) == (200, etag, first.content)
    assert (await poll(client, headers, task["id"], etag)).status_code == 304
    assert (await poll(client, headers, task["id"], f'"x", W/{etag}')).status_code == 304
    assert (await poll(client, headers, task["id"], "*")).status_code == 304
    assert (await poll(client, headers, task["id"], '"other"')).status_code == 200

    approved = await client.post(
        f"/v1/tasks/{task['id']}/approve", json={"decided_by": "ana"}, headers=headers
    )
    assert approved.status_code == 200, approved.text
    done = await settle(client, headers, task["id"])
    assert done["status"] == "completed"
    after = await poll(client, headers, task["id"], etag)
    assert after.status_code == 200, "an old ETag must not hide the change"
    assert after.json() == done
    assert after.headers["etag"] != etag
    assert (await poll(client, headers, task["id"], after.headers["etag"])).status_code == 304


async def test_a_poll_right_after_a_change_commits_sees_it(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    """The approve's reply comes after its transaction committed; the very next poll (the
    task's earlier bytes are cached) must show the resumed task, not the paused one."""
    task = await paused_task(client, headers, deploy_workflow)
    assert (await poll(client, headers, task["id"])).json()["status"] == "paused"
    assert (await poll(client, headers, task["id"])).json()["status"] == "paused"
    approved = await client.post(
        f"/v1/tasks/{task['id']}/approve", json={"decided_by": "ana"}, headers=headers
    )
    assert approved.status_code == 200, approved.text
    polled = (await poll(client, headers, task["id"])).json()
    assert polled["status"] != "paused"
    assert polled["hitl_request"] is None


async def test_a_cached_task_stays_invisible_to_other_organizations_and_bad_keys(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    task = await paused_task(client, headers, deploy_workflow)
    cached = await poll(client, headers, task["id"])
    assert (await poll(client, headers, task["id"])).status_code == 200
    theirs = await poll(client, {"x-api-key": other_key}, task["id"], cached.headers["etag"])
    assert theirs.status_code == 404, theirs.text
    assert theirs.json() == {"detail": f"task {task['id']} not found"}
    for bad in ({"x-api-key": "tlk_nope"}, {}):
        refused = await poll(client, bad, task["id"])
        assert refused.status_code == 401, refused.text


async def test_a_deleted_task_is_404_at_once_though_its_bytes_were_cached(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task = await paused_task(client, headers, deploy_workflow)
    assert (await client.post(f"/v1/tasks/{task['id']}/stop", headers=headers)).is_success
    stopped = await settle(client, headers, task["id"])
    assert stopped["status"] == "stopped"
    assert (await poll(client, headers, task["id"])).status_code == 200
    assert (await client.delete(f"/v1/tasks/{task['id']}", headers=headers)).status_code == 204
    assert (await poll(client, headers, task["id"])).status_code == 404


async def test_a_long_poll_and_a_query_string_still_go_through_the_route(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task = await paused_task(client, headers, deploy_workflow)
    waited = await client.get(f"/v1/tasks/{task['id']}", params={"wait": 5}, headers=headers)
    assert waited.status_code == 200
    assert waited.headers["etag"] == (await poll(client, headers, task["id"])).headers["etag"]
    bad = await client.get(f"/v1/tasks/{task['id']}", params={"wait": -1}, headers=headers)
    assert bad.status_code == 422, bad.text
