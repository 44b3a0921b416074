"""Orchestration nodes: a workflow runs another deployed workflow as a sub-task; nesting
depth and cycles are refused at deploy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from taskloom.config import Settings
from tests.conftest import DeployWorkflow
from tests.conftest import test_settings as make_settings


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def settings(database_url: str, overrides: dict[str, Any]) -> Settings:
    return make_settings(database_url, **overrides)


def code_node(node_id: str, expression: str, **extra: Any) -> dict[str, Any]:
    code = f"def main(data):\n    return {expression}\n"
    return {"id": node_id, "type": "code", "definition": {"code": code}, **extra}


def nesting(
    node_id: str, workflow_id: str, next_node_ids: tuple[str, ...] = (), **definition: Any
) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "orchestration",
        "definition": {"asset_id": workflow_id, **definition},
        "next_node_ids": list(next_node_ids),
    }


async def test_workflows_nested_three_levels_deep_run_as_sub_tasks(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    leaf = await deploy_workflow(
        {"name": "leaf", "orchestration_nodes": [code_node("shout", "data.upper() + '!'")]}
    )
    middle = await deploy_workflow(
        {
            "name": "middle",
            "orchestration_nodes": [
                nesting("leaf", leaf, ("wrap",), version="latest"),
                code_node("wrap", "'(' + data + ')'"),
            ],
        }
    )
    top = await deploy_workflow(
        {"name": "top", "orchestration_nodes": [nesting("middle", middle, version=1)]}
    )
    reply = await client.post(
        f"/v1/workflows/{top}/invoke", json={"input": {"text": "hi"}}, headers=headers
    )
    task = reply.json()
    assert task["status"] == "completed", task
    assert task["result"] == "(HI!)"
    # the invoke reply carries what GET shows: the trace and the sub-task
    [middle_task] = task["sub_executions"]
    assert [run["node_id"] for run in task["node_runs"]] == ["middle"]
    child = (await client.get(f"/v1/tasks/{middle_task}", headers=headers)).json()
    assert child["agent_id"] == middle
    assert child["parent_execution"] == task["id"]
    assert child["source"] == "orchestration"
    [leaf_task] = child["sub_executions"]
    grandchild = (await client.get(f"/v1/tasks/{leaf_task}", headers=headers)).json()
    assert grandchild["agent_id"] == leaf
    assert grandchild["parent_execution"] == middle_task
    assert grandchild["result"] == "HI!"


async def test_a_cycle_of_nested_workflows_is_refused_at_deploy(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    first = await deploy_workflow(
        {"name": "first", "orchestration_nodes": [code_node("x", "data")]}
    )
    second = await deploy_workflow(
        {"name": "second", "orchestration_nodes": [nesting("to-first", first)]}
    )
    # first now runs second, which runs first's latest version: the deploy closes a cycle
    patched = await client.patch(
        f"/v1/workflows/{first}",
        json={"orchestration_nodes": [nesting("to-second", second)]},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    deployed = await client.put(f"/v1/workflows/{first}", headers=headers)
    assert deployed.status_code == 422, deployed.text
    message = deployed.json()["detail"][0]["msg"]
    assert "cycle" in message
    assert f"{first} -> {second} -> {first}" in message
    # a workflow that names itself is refused as soon as it is saved
    itself = await client.patch(
        f"/v1/workflows/{first}",
        json={"orchestration_nodes": [nesting("me", first)]},
        headers=headers,
    )
    assert itself.status_code == 422


async def test_nesting_past_the_limit_is_refused_at_deploy(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    below = await deploy_workflow({"name": "l0", "orchestration_nodes": [code_node("x", "data")]})
    for level in range(1, 5):  # the default max_nesting_depth is 4 levels below the top
        below = await deploy_workflow(
            {"name": f"l{level}", "orchestration_nodes": [nesting("down", below)]}
        )
    created = await client.post(
        "/v1/workflows",
        json={"name": "too deep", "orchestration_nodes": [nesting("down", below)]},
        headers=headers,
    )
    deployed = await client.put(f"/v1/workflows/{created.json()['id']}", headers=headers)
    assert deployed.status_code == 422, deployed.text
    assert "max_nesting_depth" in deployed.json()["detail"][0]["msg"]


async def test_orchestration_node_naming_an_agent_or_nothing_is_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.post(
        "/v1/workflows",
        json={"name": "x", "orchestration_nodes": [nesting("n", "no-such-workflow")]},
        headers=headers,
    )
    assert reply.status_code == 422
    assert (
        "node 'n' (orchestration): workflow no-such-workflow not found"
        in (reply.json()["detail"][0]["msg"])
    )


@pytest.mark.parametrize("overrides", [{"max_nesting_depth": 1}])
async def test_nesting_is_counted_again_at_run_time(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    """A nesting made by later deploys (a workflow on `latest` that gained a nested workflow
    of its own) stops at the limit when it runs."""
    leaf = await deploy_workflow({"name": "leaf", "orchestration_nodes": [code_node("x", "data")]})
    middle = await deploy_workflow(
        {"name": "middle", "orchestration_nodes": [code_node("x", "data")]}
    )
    top = await deploy_workflow({"name": "top", "orchestration_nodes": [nesting("m", middle)]})
    # middle now nests leaf: its own deploy is within the limit, top's run is not
    patched = await client.patch(
        f"/v1/workflows/{middle}?deploy=true",
        json={"orchestration_nodes": [nesting("l", leaf)]},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    task = (
        await client.post(
            f"/v1/workflows/{top}/invoke", json={"input": {"text": "x"}}, headers=headers
        )
    ).json()
    assert task["status"] == "error", task
    assert "max_nesting_depth" in task["status_message"]
