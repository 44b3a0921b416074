"""The SDK's task calls (`Tasks`, `Task`) against taskloom, exactly as users make them."""

from __future__ import annotations

import asyncio

import pytest
from xpander_sdk import (
    AgentExecutionStatus,
    Configuration,
    ModuleException,
    Task,
    Tasks,
    TaskUpdateEventType,
    User,
)

from support import TERMINAL, Deploy, eventually, napper, shout


async def finished(tasks: Tasks, task_id: str) -> Task:
    """Poll `Tasks.aget` until the task is terminal, as the docs' polling recipe does."""

    async def check() -> Task | None:
        task = await tasks.aget(task_id=task_id)
        return task if task.status is not None and task.status.value in TERMINAL else None

    return await eventually(check)


async def test_acreate_then_aget_polls_to_completion(config: Configuration, deploy: Deploy) -> None:
    workflow_id = await deploy(shout())
    tasks = Tasks(configuration=config)

    created = await tasks.acreate(agent_id=workflow_id, prompt="hello")
    done = await finished(tasks, created.id)

    assert created.agent_id == workflow_id
    assert created.organization_id == config.organization_id
    assert created.input.text == "hello"
    assert created.status == AgentExecutionStatus.Pending
    assert created.source == "sdk"
    assert done.id == created.id
    assert done.status == AgentExecutionStatus.Completed
    assert done.result == "HELLO!"
    assert done.finished_at is not None


async def test_areload_refreshes_a_task(config: Configuration, deploy: Deploy) -> None:
    workflow_id = await deploy(shout())
    task = await Tasks(configuration=config).acreate(agent_id=workflow_id, prompt="again")

    async def check() -> Task | None:
        await task.areload()
        return task if task.status == AgentExecutionStatus.Completed else None

    await eventually(check)
    assert task.result == "AGAIN!"


async def test_aevents_streams_to_task_finished(config: Configuration, deploy: Deploy) -> None:
    workflow_id = await deploy(shout())
    task = await Tasks(configuration=config).acreate(
        agent_id=workflow_id, prompt="stream me", events_streaming=True
    )

    async with asyncio.timeout(60):
        events = [event async for event in task.aevents()]  # ends when the server closes

    types = [event.type for event in events]
    assert types[0] == TaskUpdateEventType.TaskCreated
    assert types[-1] == TaskUpdateEventType.TaskFinished
    assert TaskUpdateEventType.TaskUpdated in types
    assert {event.task_id for event in events} == {task.id}
    last = events[-1].data
    assert isinstance(last, Task), "task events carry a Task the SDK can parse"
    assert last.status == AgentExecutionStatus.Completed
    assert last.result == "STREAM ME!"


async def test_aevents_refused_client_side_without_events_streaming(
    config: Configuration, deploy: Deploy
) -> None:
    workflow_id = await deploy(shout())
    task = await Tasks(configuration=config).acreate(agent_id=workflow_id, prompt="quiet")
    assert task.events_streaming is False
    with pytest.raises(ValueError, match="events streaming"):
        async for _ in task.aevents():
            pass


async def test_astop_stops_a_running_task(config: Configuration, deploy: Deploy) -> None:
    workflow_id = await deploy(napper(30))
    tasks = Tasks(configuration=config)
    task = await tasks.acreate(agent_id=workflow_id, prompt="zz")

    stopped = await tasks.astop(task_id=task.id)
    polled = await finished(tasks, task.id)

    assert stopped.status == AgentExecutionStatus.Stopped
    assert stopped.is_manually_stopped is True
    assert polled.status == AgentExecutionStatus.Stopped


async def test_task_astop_updates_the_task_in_place(config: Configuration, deploy: Deploy) -> None:
    workflow_id = await deploy(napper(30))
    task = await Tasks(configuration=config).acreate(agent_id=workflow_id, prompt="zz")

    await task.astop()

    assert task.status == AgentExecutionStatus.Stopped
    assert task.is_manually_stopped is True


async def test_acreate_with_existing_task_id_runs_the_next_turn(
    config: Configuration, deploy: Deploy
) -> None:
    workflow_id = await deploy(shout())
    tasks = Tasks(configuration=config)
    first = await tasks.acreate(agent_id=workflow_id, prompt="one")
    await finished(tasks, first.id)

    second = await tasks.acreate(agent_id=workflow_id, existing_task_id=first.id, prompt="two")
    done = await finished(tasks, first.id)

    assert second.id == first.id
    assert done.input.text == "two"
    assert done.result == "TWO!"


async def test_acreate_with_agent_version_pins_it(config: Configuration, deploy: Deploy) -> None:
    workflow_id = await deploy(shout())
    task = await Tasks(configuration=config).acreate(
        agent_id=workflow_id, prompt="pinned", agent_version="1"
    )
    assert task.agent_version == "1"
    with pytest.raises(ModuleException) as missing:
        await Tasks(configuration=config).acreate(
            agent_id=workflow_id, prompt="x", agent_version="9"
        )
    assert missing.value.status_code == 404


async def test_alist_and_alist_user_tasks(config: Configuration, deploy: Deploy) -> None:
    workflow_id = await deploy(shout())
    tasks = Tasks(configuration=config)
    ann = User(email="ann@example.com", id=f"ann-{workflow_id}")
    mine = await tasks.acreate(agent_id=workflow_id, prompt="a", user_details=ann)
    other = await tasks.acreate(agent_id=workflow_id, prompt="b", triggering_agent_id="boss")
    await finished(tasks, mine.id)
    await finished(tasks, other.id)

    listed = await tasks.alist(agent_id=workflow_id)
    by_trigger = await tasks.alist(agent_id=workflow_id, filters={"triggering_agent_id": "boss"})
    completed = await tasks.alist(agent_id=workflow_id, filters={"status": "completed"})
    users = await tasks.alist_user_tasks(user_id=ann.id or "")

    assert [item.id for item in listed] == [other.id, mine.id], "newest first"
    assert listed[0].status == AgentExecutionStatus.Completed
    assert [item.id for item in by_trigger] == [other.id]
    assert {item.id for item in completed} == {mine.id, other.id}
    assert [item.id for item in users] == [mine.id]
    assert users[0].user_id == ann.id
    loaded = await listed[0].aload(configuration=config)
    assert loaded.result == "B!"


async def test_aupdate_changes_client_fields(config: Configuration, deploy: Deploy) -> None:
    workflow_id = await deploy(shout())
    tasks = Tasks(configuration=config)
    task = await tasks.acreate(
        agent_id=workflow_id, prompt="x", tool_call_payload_extension={"a": 1}
    )
    await finished(tasks, task.id)

    updated = await tasks.aupdate(task_id=task.id, tool_call_payload_extension={"b": 2})

    assert updated.payload_extension == {"a": 1, "b": 2}
    assert (await tasks.aget(task_id=task.id)).payload_extension == {"a": 1, "b": 2}


async def test_aupdate_status_of_a_taskloom_run_task_is_refused(
    config: Configuration, deploy: Deploy
) -> None:
    workflow_id = await deploy(shout())
    tasks = Tasks(configuration=config)
    task = await tasks.acreate(agent_id=workflow_id, prompt="x")
    await finished(tasks, task.id)

    with pytest.raises(ModuleException) as refused:
        await tasks.aupdate(task_id=task.id, status=AgentExecutionStatus.Error, result="no")

    assert refused.value.status_code == 409
    assert (await tasks.aget(task_id=task.id)).status == AgentExecutionStatus.Completed


async def test_asave_sends_the_whole_task_back(config: Configuration, deploy: Deploy) -> None:
    workflow_id = await deploy(shout())
    tasks = Tasks(configuration=config)
    created = await tasks.acreate(agent_id=workflow_id, prompt="x")
    task = await finished(tasks, created.id)

    task.title = "Saved by the SDK"
    task.internal_status = "reviewed"
    await task.asave()
    reloaded = await tasks.aget(task_id=task.id)

    assert task.title == "Saved by the SDK"
    assert reloaded.title == "Saved by the SDK"
    assert reloaded.internal_status == "reviewed"
    assert reloaded.status == AgentExecutionStatus.Completed
    # a status the engine did not set is refused, even through a full save
    with pytest.raises(ModuleException) as refused:
        await task.aset_status(AgentExecutionStatus.Error, result="overridden")
    assert refused.value.status_code == 409


async def test_aget_activity_log(config: Configuration, deploy: Deploy) -> None:
    workflow_id = await deploy(shout())
    tasks = Tasks(configuration=config)
    created = await tasks.acreate(agent_id=workflow_id, prompt="log me")
    task = await finished(tasks, created.id)

    activity = await task.aget_activity_log()

    assert activity.id == task.id
    texts = [message.content.text for message in activity.messages]
    assert texts == ["log me", "LOG ME!"]


async def test_aget_unknown_task_is_404(config: Configuration) -> None:
    with pytest.raises(ModuleException) as missing:
        await Tasks(configuration=config).aget(task_id="no-such-task")
    assert missing.value.status_code == 404
