"""`GET /v1/tasks/{id}/trace`: each node run with what went in and what came out, on real
runs (code nodes in the sandbox) on both stores."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import DeployWorkflow
from tests.support.workflows import code_node, w1, w3


async def _run(
    client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, text: str, **body: Any
) -> dict[str, Any]:
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke",
        json={"input": {"text": text}, **body},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    task: dict[str, Any] = reply.json()
    return task


async def _trace(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: str
) -> list[dict[str, Any]]:
    reply = await client.get(f"/v1/tasks/{task_id}/trace", headers=headers)
    assert reply.status_code == 200, reply.text
    runs: list[dict[str, Any]] = reply.json()["node_runs"]
    return runs


async def test_trace_chains_each_nodes_input_to_the_previous_output(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task = await _run(client, headers, await deploy_workflow(w1()), "hello")
    runs = await _trace(client, headers, task["id"])
    assert [(r["node_id"], r["input"], r["input_source"], r["output"]) for r in runs] == [
        ("upper", "hello", "turn_input", "HELLO"),
        ("append", "HELLO", "previous_node", "HELLO world"),
        ("count", "HELLO world", "previous_node", {"text": "HELLO world", "chars": 11}),
    ]
    assert all(r["status"] == "completed" for r in runs)


async def test_trace_parallel_branches_get_their_parallel_nodes_input(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    task = await _run(client, headers, await deploy_workflow(w3(branches=2)), "abc")
    by_step = {r["step"]: r for r in await _trace(client, headers, task["id"])}
    assert by_step["2.0"]["input"] == by_step["2.1"]["input"] == "abc"
    assert by_step["2.0"]["input_source"] == "parallel_parent"
    assert (by_step["2.0"]["output"], by_step["2.1"]["output"]) == (3, 4)
    assert by_step["3"]["input"] == by_step["2"]["output"]


async def test_trace_a_failed_run_has_its_input_and_no_output(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    broken = {
        "name": "broken",
        "orchestration_nodes": [
            code_node("first", "return input * 2", next_ids=["boom"]),
            code_node("boom", "raise ValueError('no')"),
        ],
    }
    task = await _run(client, headers, await deploy_workflow(broken), "ab")
    failed = (await _trace(client, headers, task["id"]))[-1]
    assert (failed["node_id"], failed["status"]) == ("boom", "failed")
    assert (failed["input"], failed["output"]) == ("abab", None)
    assert failed["error"]


async def test_trace_second_turn_starts_from_its_own_text(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    first = await _run(client, headers, workflow_id, "one")
    await _run(client, headers, workflow_id, "two", id=first["id"])
    runs = await _trace(client, headers, first["id"])
    starts = [(r["turn"], r["input"]) for r in runs if r["step"] == "1"]
    assert starts == [(1, "one"), (2, "two")]


async def test_trace_of_another_organizations_task_is_404(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
) -> None:
    task = await _run(client, headers, await deploy_workflow(w1()), "x")
    reply = await client.get(f"/v1/tasks/{task['id']}/trace", headers={"x-api-key": other_key})
    assert reply.status_code == 404
