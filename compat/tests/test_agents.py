"""The SDK's `Agents` and `Agent` calls on a deployed workflow, which is an agent to the SDK
(type `orchestration`). The same calls on taskloom's own agents are in test_worker.py, where
an SDK worker runs them."""

from __future__ import annotations

import asyncio

from xpander_sdk import (
    Agent,
    AgentExecutionStatus,
    Agents,
    Configuration,
    Task,
    Tasks,
    TaskUpdateEventType,
)

from support import TERMINAL, Deploy, eventually, shout


async def test_agents_aget_loads_a_workflow(config: Configuration, deploy: Deploy) -> None:
    workflow_id = await deploy(shout())

    agent = await Agents(configuration=config).aget(agent_id=workflow_id)

    assert isinstance(agent, Agent)
    assert agent.id == workflow_id
    assert agent.organization_id == config.organization_id
    assert agent.name == "shout"


async def test_agents_alist_lists_workflows(config: Configuration, deploy: Deploy) -> None:
    workflow_id = await deploy(shout())

    listed = await Agents(configuration=config).alist()

    assert workflow_id in [item.id for item in listed]


async def test_agent_acreate_task_runs_and_streams(config: Configuration, deploy: Deploy) -> None:
    workflow_id = await deploy(shout())
    agent = await Agents(configuration=config).aget(agent_id=workflow_id)

    task = await agent.acreate_task(prompt="agent", events_streaming=True)
    async with asyncio.timeout(60):
        events = [event async for event in task.aevents()]

    assert task.agent_id == workflow_id
    assert task.source == "sdk"
    assert events[-1].type == TaskUpdateEventType.TaskFinished
    assert isinstance(events[-1].data, Task)
    assert events[-1].data.result == "AGENT!"


async def test_agent_acreate_task_continues_a_conversation(
    config: Configuration, deploy: Deploy
) -> None:
    workflow_id = await deploy(shout())
    agent = await Agents(configuration=config).aget(agent_id=workflow_id)
    tasks = Tasks(configuration=config)

    async def settled(task_id: str) -> Task:
        async def check() -> Task | None:
            task = await tasks.aget(task_id=task_id)
            return task if task.status is not None and task.status.value in TERMINAL else None

        return await eventually(check)

    first = await agent.acreate_task(prompt="first")
    await settled(first.id)
    second = await agent.acreate_task(prompt="second", existing_task_id=first.id)
    done = await settled(first.id)

    assert second.id == first.id
    assert done.status == AgentExecutionStatus.Completed
    assert done.result == "SECOND!"
