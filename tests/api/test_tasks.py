"""Tasks through the API: poll one, list with filters, stop, delete."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from taskloom.config import Settings
from tests.conftest import DeployWorkflow
from tests.conftest import test_settings as make_settings
from tests.support.waiting import eventually
from tests.support.workflows import code_node, w1

TERMINAL = {"completed", "error", "failed", "stopped"}
SLEEP_S = 3


@pytest.fixture
def settings(database_url: str) -> Settings:
    # one task at a time, so that a second task stays pending while the first naps
    return make_settings(database_url, worker_concurrency=1)


def sleeper_workflow() -> dict[str, Any]:
    """`first` answers at once, `nap` sleeps SLEEP_S seconds, `after` must run only after it."""
    return {
        "name": "sleeper",
        "orchestration_nodes": [
            code_node("first", "return input", next_ids=["nap"]),
            code_node(
                "nap", f"import time\ntime.sleep({SLEEP_S})\nreturn input", next_ids=["after"]
            ),
            code_node("after", "return 'after ran'"),
        ],
    }


async def invoke_sync(
    client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, **body: Any
) -> dict[str, Any]:
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke",
        json={"input": {"text": "hi"}, **body},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    task: dict[str, Any] = reply.json()
    return task


async def invoke_async(client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str) -> str:
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        json={"input": {"text": "hi"}},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    task_id: str = reply.json()["id"]
    return task_id


async def get_task(client: httpx.AsyncClient, headers: dict[str, str], task_id: str) -> Any:
    reply = await client.get(f"/v1/tasks/{task_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def napping_task(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> str:
    """A task that is executing its `nap` node (`first` has completed)."""
    task_id = await invoke_async(client, headers, await deploy_workflow(sleeper_workflow()))

    async def napping() -> bool:
        task = await get_task(client, headers, task_id)
        return bool(task["status"] == "executing" and task["last_executed_node_id"] == "first")

    await eventually(napping)
    return task_id


async def holds_for(check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    """Assert `check()` stays true for `seconds`: an invariant polled against a deadline."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert await check()
        await asyncio.sleep(0.1)  # noqa: TID251  # an invariant held over real time
    assert await check()


# -- GET one ----------------------------------------------------------------------------


async def test_get_task_has_every_contract_field(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    done = await invoke_sync(client, headers, workflow_id)
    task = await get_task(client, headers, done["id"])
    for field in (
        "id",
        "agent_id",
        "organization_id",
        "input",
        "status",
        "result",
        "created_at",
        "started_at",
        "finished_at",
        "source",
        "agent_version",
        "last_executed_node_id",
        "is_manually_stopped",
        "execution_attempts",
        "payload_extension",
        "status_reason",
        "node_runs",
    ):
        assert field in task, field
    assert task["id"] == done["id"]
    assert task["agent_id"] == workflow_id
    assert task["input"]["text"] == "hi"
    assert task["status"] == "completed"
    assert task["source"] == "api"
    assert task["agent_version"] == "1"
    assert task["last_executed_node_id"] == "count"
    assert task["is_manually_stopped"] is False
    assert task["execution_attempts"] == 1
    assert task["status_reason"] is None


async def test_get_task_timestamps_are_ordered_iso_utc(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    done = await invoke_sync(client, headers, await deploy_workflow(w1()))
    task = await get_task(client, headers, done["id"])
    stamps = [task["created_at"], task["started_at"], task["finished_at"]]
    assert all(isinstance(s, str) and s.endswith("Z") for s in stamps), stamps
    assert stamps == sorted(stamps)


async def test_get_task_echoes_payload_extension(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    extension = {"ticket": 42, "tags": ["a", "b"], "nested": {"k": None}}
    done = await invoke_sync(
        client, headers, await deploy_workflow(w1()), payload_extension=extension
    )
    task = await get_task(client, headers, done["id"])
    assert task["payload_extension"] == extension


async def test_get_task_organization_id_matches_the_workflow(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    workflow = (await client.get(f"/v1/workflows/{workflow_id}", headers=headers)).json()
    done = await invoke_sync(client, headers, workflow_id)
    assert (await get_task(client, headers, done["id"]))["organization_id"] == workflow[
        "organization_id"
    ]


async def test_get_task_node_runs_trace_every_node_in_order(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    done = await invoke_sync(client, headers, await deploy_workflow(w1()))
    trace = (await get_task(client, headers, done["id"]))["node_runs"]
    assert [run["node_id"] for run in trace] == ["upper", "append", "count"]
    assert all(run["status"] == "completed" and run["error"] is None for run in trace)
    assert all(run["node_type"] == "code" for run in trace)


async def test_get_task_unknown_id_is_404(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.get("/v1/tasks/no-such-task", headers=headers)
    assert reply.status_code == 404
    assert "detail" in reply.json()


# -- list -------------------------------------------------------------------------------


async def test_list_tasks_filters_by_agent_id(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    first = await deploy_workflow(w1())
    second = await deploy_workflow(w1())
    mine = {(await invoke_sync(client, headers, first))["id"] for _ in range(2)}
    await invoke_sync(client, headers, second)
    page = (await client.get("/v1/tasks", params={"agent_id": first}, headers=headers)).json()
    assert {item["id"] for item in page["items"]} == mine
    assert page["total"] == 2
    assert all(item["agent_id"] == first for item in page["items"])


async def test_list_tasks_filters_by_status(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    good = await deploy_workflow(w1())
    bad = await deploy_workflow(
        {"name": "bad", "orchestration_nodes": [code_node("boom", "raise ValueError('no')")]}
    )
    completed = (await invoke_sync(client, headers, good))["id"]
    failed = (await invoke_sync(client, headers, bad))["id"]
    page = (await client.get("/v1/tasks", params={"status": "error"}, headers=headers)).json()
    assert [item["id"] for item in page["items"]] == [failed]
    page = (await client.get("/v1/tasks", params={"status": "completed"}, headers=headers)).json()
    assert [item["id"] for item in page["items"]] == [completed]


async def test_list_tasks_filters_by_user_id(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    ids = {}
    for user in ("u-1", "u-2"):
        reply = await client.post(
            f"/v1/workflows/{workflow_id}/invoke",
            json={"input": {"text": "hi", "user": {"id": user, "email": f"{user}@x.io"}}},
            headers=headers,
        )
        ids[user] = reply.json()["id"]
    page = (await client.get("/v1/tasks", params={"user_id": "u-1"}, headers=headers)).json()
    assert [item["id"] for item in page["items"]] == [ids["u-1"]]
    assert page["items"][0]["user_id"] == "u-1"


async def test_list_tasks_filters_by_parent_task_id(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    parent = await invoke_sync(client, headers, workflow_id)
    child = await invoke_sync(client, headers, workflow_id, parent_execution_id=parent["id"])
    page = (
        await client.get("/v1/tasks", params={"parent_task_id": parent["id"]}, headers=headers)
    ).json()
    assert [item["id"] for item in page["items"]] == [child["id"]]
    assert page["items"][0]["parent_task_id"] == parent["id"]


async def test_list_tasks_filters_by_triggering_agent_and_internal_status(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    await invoke_sync(client, headers, workflow_id)
    triggered = await invoke_sync(client, headers, workflow_id, triggering_agent_id="agent-7")
    marked = await invoke_sync(client, headers, workflow_id)
    patched = await client.patch(
        f"/agent-execution/{marked['id']}/update",
        json={"internal_status": "reviewed"},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    by_agent = (
        await client.get("/v1/tasks", params={"triggering_agent_id": "agent-7"}, headers=headers)
    ).json()
    by_status = (
        await client.get("/v1/tasks", params={"internal_status": "reviewed"}, headers=headers)
    ).json()
    assert [item["id"] for item in by_agent["items"]] == [triggered["id"]]
    assert [item["id"] for item in by_status["items"]] == [marked["id"]]


async def test_list_tasks_paginates_with_the_envelope(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    created = {(await invoke_sync(client, headers, workflow_id))["id"] for _ in range(3)}
    first = (await client.get("/v1/tasks", params={"per_page": 2}, headers=headers)).json()
    second = (
        await client.get("/v1/tasks", params={"per_page": 2, "page": 2}, headers=headers)
    ).json()
    assert (first["total"], first["page"], first["per_page"], first["total_pages"]) == (
        3,
        1,
        2,
        2,
    )
    assert len(first["items"]) == 2
    assert len(second["items"]) == 1
    assert {item["id"] for item in first["items"] + second["items"]} == created


async def test_list_tasks_items_have_the_list_item_fields(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    done = await invoke_sync(client, headers, workflow_id)
    item = (await client.get("/v1/tasks", headers=headers)).json()["items"][0]
    assert item["id"] == done["id"]
    assert item["agent_id"] == workflow_id
    assert item["organization_id"] == done["organization_id"]
    assert item["status"] == "completed"
    assert item["result"] == done["result"]
    assert item["created_at"] == done["created_at"]


async def test_list_tasks_newest_first(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    ids = [(await invoke_sync(client, headers, workflow_id))["id"] for _ in range(3)]
    page = (await client.get("/v1/tasks", headers=headers)).json()
    assert [item["id"] for item in page["items"]] == ids[::-1]


async def test_list_tasks_per_page_over_50_is_422(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.get("/v1/tasks", params={"per_page": 51}, headers=headers)
    assert reply.status_code == 422


async def test_list_tasks_unknown_status_is_422(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.get("/v1/tasks", params={"status": "running"}, headers=headers)
    assert reply.status_code == 422
    assert isinstance(reply.json()["detail"], list)


# -- stop -------------------------------------------------------------------------------


async def test_stop_running_task_returns_it_stopped(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task_id = await napping_task(client, headers, deploy_workflow)
    reply = await client.post(f"/v1/tasks/{task_id}/stop", headers=headers)
    assert reply.status_code == 200, reply.text
    task = reply.json()
    assert task["status"] == "stopped"
    assert task["is_manually_stopped"] is True
    assert task["finished_at"] is not None
    assert task["status_reason"] == "stopped_by_user"


async def test_stop_running_task_answers_before_the_node_would_finish(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task_id = await napping_task(client, headers, deploy_workflow)
    started = time.monotonic()
    await client.post(f"/v1/tasks/{task_id}/stop", headers=headers)
    assert time.monotonic() - started < SLEEP_S / 2


async def test_stop_running_task_never_runs_the_later_nodes(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task_id = await napping_task(client, headers, deploy_workflow)
    await client.post(f"/v1/tasks/{task_id}/stop", headers=headers)

    async def still_stopped() -> bool:
        task = await get_task(client, headers, task_id)
        ran = [run["node_id"] for run in task["node_runs"]]
        return task["status"] == "stopped" and task["result"] is None and "after" not in ran

    # past the moment the nap would have ended and `after` would have run
    await holds_for(still_stopped, SLEEP_S + 1.5)
    trace = (await get_task(client, headers, task_id))["node_runs"]
    assert [run["node_id"] for run in trace] == ["first"]


async def test_stop_twice_is_idempotent(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task_id = await napping_task(client, headers, deploy_workflow)
    first = await client.post(f"/v1/tasks/{task_id}/stop", headers=headers)
    second = await client.post(f"/v1/tasks/{task_id}/stop", headers=headers)
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "stopped"
    assert second.json()["is_manually_stopped"] is True
    assert second.json()["finished_at"] == first.json()["finished_at"]


async def test_stop_completed_task_returns_it_unchanged(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    done = await invoke_sync(client, headers, await deploy_workflow(w1()))
    reply = await client.post(f"/v1/tasks/{done['id']}/stop", headers=headers)
    assert reply.status_code == 200, reply.text
    task = reply.json()
    assert task["status"] == "completed"
    assert task["is_manually_stopped"] is False
    assert task["result"] == done["result"]
    assert task["finished_at"] == done["finished_at"]
    assert (await get_task(client, headers, done["id"]))["status"] == "completed"


async def test_stop_pending_task_never_starts_it(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    busy = await napping_task(client, headers, deploy_workflow)  # holds the only slot
    waiting = await invoke_async(client, headers, await deploy_workflow(w1()))
    assert (await get_task(client, headers, waiting))["status"] == "pending"
    stopped = (await client.post(f"/v1/tasks/{waiting}/stop", headers=headers)).json()
    assert stopped["status"] == "stopped"
    assert stopped["is_manually_stopped"] is True
    await client.post(f"/v1/tasks/{busy}/stop", headers=headers)  # frees the slot
    # the worker is free again: a newer task runs, the stopped one (older) never did
    assert (await invoke_sync(client, headers, await deploy_workflow(w1())))["status"] == (
        "completed"
    )
    task = await get_task(client, headers, waiting)
    assert task["status"] == "stopped"
    assert task["node_runs"] == []
    assert task["started_at"] is None


async def test_stop_unknown_task_is_404(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    reply = await client.post("/v1/tasks/no-such-task/stop", headers=headers)
    assert reply.status_code == 404


async def test_stop_leaves_the_worker_able_to_run_new_tasks(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task_id = await napping_task(client, headers, deploy_workflow)
    await client.post(f"/v1/tasks/{task_id}/stop", headers=headers)
    done = await invoke_sync(client, headers, await deploy_workflow(w1()))
    assert done["status"] == "completed"


# -- delete -----------------------------------------------------------------------------


async def test_delete_task_returns_204_then_get_is_404(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    done = await invoke_sync(client, headers, await deploy_workflow(w1()))
    reply = await client.delete(f"/v1/tasks/{done['id']}", headers=headers)
    assert reply.status_code == 204
    assert (await client.get(f"/v1/tasks/{done['id']}", headers=headers)).status_code == 404


async def test_delete_task_removes_it_from_the_list(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    kept = await invoke_sync(client, headers, workflow_id)
    gone = await invoke_sync(client, headers, workflow_id)
    await client.delete(f"/v1/tasks/{gone['id']}", headers=headers)
    page = (await client.get("/v1/tasks", headers=headers)).json()
    assert [item["id"] for item in page["items"]] == [kept["id"]]


async def test_delete_running_task_is_204_then_404(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task_id = await napping_task(client, headers, deploy_workflow)
    reply = await client.delete(f"/v1/tasks/{task_id}", headers=headers)
    assert reply.status_code == 204
    assert (await client.get(f"/v1/tasks/{task_id}", headers=headers)).status_code == 404


async def test_delete_unknown_task_is_404(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.delete("/v1/tasks/no-such-task", headers=headers)
    assert reply.status_code == 404
