"""The trace names the sub-task an agent node ran (`sub_task_id`), so a client can drill from
the node into the sub-task; a node that ran no sub-task has none."""

from __future__ import annotations

import httpx

from tests.conftest import DeployWorkflow
from tests.llm.test_agents_api import deployed_agent
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.workflows import code_node


async def test_trace_links_an_agent_node_to_its_sub_task(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,
    deploy_workflow: DeployWorkflow,
) -> None:
    agent_id = await deployed_agent(client, headers)
    workflow_id = await deploy_workflow(
        {
            "name": "delegates",
            "orchestration_nodes": [
                code_node("prep", "return input + '?'", next_ids=["ask"]),
                {"id": "ask", "type": "agent", "definition": {"asset_id": agent_id}},
            ],
        }
    )
    fake_llm.script(Reply.say("An answer."))
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "why"}}, headers=headers
    )
    parent = reply.json()
    assert parent["status"] == "completed", parent
    [child_id] = (await client.get(f"/v1/tasks/{parent['id']}", headers=headers)).json()[
        "sub_executions"
    ]
    trace = (await client.get(f"/v1/tasks/{parent['id']}/trace", headers=headers)).json()
    by_node = {run["node_id"]: run for run in trace["node_runs"]}
    assert by_node["ask"]["sub_task_id"] == child_id
    assert by_node["ask"]["input"] == "why?"
    assert by_node["prep"]["sub_task_id"] is None
