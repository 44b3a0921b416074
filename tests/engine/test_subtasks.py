"""Sub-tasks, in-process on a manual clock, on SQLite and PostgreSQL: a workflow's
orchestration node runs its child inline, in the parent's worker and slot (accepted already
held, never queued, never claimed); a child cut off with its worker is found again by the
resumed parent and run once more under the same idempotency key, never twice to the end;
a child that pauses keeps its parent waiting until it ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from taskloom import errors
from taskloom.engine.intake import Invocation
from taskloom.engine.subtasks import child_id
from taskloom.store import events as event_store
from taskloom.store import tasks as task_store
from taskloom.store.records import EventRecord, TaskRecord, TaskStatus
from tests.conftest import test_settings as make_settings
from tests.support.engine import Engine, approval_workflow, open_engine, summarizer_workflow

LEASE_S = 15.0


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Engine]:
    async with open_engine(make_settings(database_url, lease_s=LEASE_S)) as engine:
        yield engine


def delegating(child_workflow_id: str) -> dict[str, Any]:
    """One orchestration node (`ask`) that runs the child workflow as a sub-task."""
    return {
        "name": "delegates",
        "orchestration_nodes": [
            {
                "id": "ask",
                "type": "orchestration",
                "name": "ask",
                "definition": {"asset_id": child_workflow_id},
            }
        ],
    }


async def events_of(engine: Engine, task_id: str) -> list[EventRecord]:
    async with engine.db.read() as conn:
        return await event_store.events_after(conn, task_id=task_id, after_seq=0)


async def children_of(engine: Engine, task_id: str) -> list[tuple[str, TaskStatus]]:
    async with engine.db.read() as conn:
        return await task_store.children_of(conn, task_id=task_id)


async def started_parent(engine: Engine) -> tuple[TaskRecord, str]:
    """A parent claimed by the engine's worker, its child's model call in flight (gated)."""
    child_workflow = await engine.deploy(summarizer_workflow())
    parent = (await engine.invoke(await engine.deploy(delegating(child_workflow)))).task
    assert await engine.worker.claim_once(1) == 1
    await engine.models.called.wait()
    return parent, child_id(parent.id, "ask")


async def paused(engine: Engine, task_id: str) -> TaskRecord:
    """The task once it is paused; it may not exist yet (a child its parent starts)."""
    while True:
        with engine.notifier.watch(task_id) as watch:
            try:
                task = await engine.task(task_id)
            except errors.NotFound:
                task = None
            if task is not None and task.status == TaskStatus.PAUSED:
                return task
            await watch.wait(3600)


async def kill_worker(engine: Engine, *task_ids: str) -> None:
    """What kill -9 leaves: the attempts end, their leases stay in the store until they
    expire."""
    for task_id in task_ids:
        assert engine.worker.cancel(task_id)
    await engine.worker.idle()


async def test_a_sub_task_runs_in_its_parents_worker_without_being_queued(
    engine: Engine,
) -> None:
    child_workflow = await engine.deploy(summarizer_workflow())
    parent = (await engine.invoke(await engine.deploy(delegating(child_workflow)))).task
    await engine.notifier.wait_for_work(0)  # the parent's own hint, taken
    assert await engine.worker.claim_once(10) == 1
    hinted = asyncio.create_task(engine.notifier.wait_for_work(3600))

    await engine.models.called.wait()  # the child's node calls its model
    child = await engine.task(child_id(parent.id, "ask"))

    # held by the parent's worker from its insert: on its first attempt, never pending, so
    # no worker was told of work and no other claimer can take it
    assert (child.status, child.lease_owner, child.attempt) == (
        TaskStatus.EXECUTING,
        engine.worker.id,
        1,
    )
    assert child.lease_expires_at == engine.clock.now() + engine.lease
    assert not hinted.done()
    assert await engine.claim_as("another-worker") == []
    # its log still reads as a claimed task's: created (pending), then updated (executing)
    created, updated = await events_of(engine, child.id)
    assert (created.seq, created.type, created.data["status"]) == (1, "task_created", "pending")
    assert (updated.seq, updated.type, updated.data["status"]) == (2, "task_updated", "executing")
    # the parent's stream shows the child as it started
    shown = [e.data for e in await events_of(engine, parent.id) if e.type == "sub_task_created"]
    assert [(c["id"], c["status"]) for c in shown] == [(child.id, "executing")]

    engine.models.gate.set()
    done = await engine.settled(parent.id)
    hinted.cancel()

    assert (done.status, done.result) == (TaskStatus.COMPLETED, "done")
    finished = await engine.task(child.id)
    assert (finished.status, finished.attempt, finished.lease_owner) == (
        TaskStatus.COMPLETED,
        1,
        None,
    )
    assert engine.models.calls == 1


async def test_the_heartbeat_keeps_a_running_sub_tasks_lease(engine: Engine) -> None:
    parent, child = await started_parent(engine)

    await engine.clock.advance(LEASE_S - 1)
    renewed_at = engine.clock.now()
    await engine.worker.heartbeat_once()
    await engine.clock.advance(2)  # past the lease the child was accepted with
    await engine.worker.sweep_once()

    running = await engine.task(child)
    assert (running.status, running.lease_owner) == (TaskStatus.EXECUTING, engine.worker.id)
    assert running.lease_expires_at == renewed_at + engine.lease
    engine.models.gate.set()
    assert (await engine.settled(parent.id)).status == TaskStatus.COMPLETED


async def test_a_stopped_sub_task_fails_its_agent_node_and_nothing_of_it_runs(
    engine: Engine,
) -> None:
    parent, child = await started_parent(engine)

    await engine.tasks.stop(organization_id=engine.organization_id, task_id=child)
    done = await engine.settled(parent.id)

    assert done.status == TaskStatus.ERROR
    assert done.status_reason == "stopped_by_user"
    assert (await engine.task(child)).status == TaskStatus.STOPPED
    await engine.worker.idle()
    assert not engine.worker.runs(child)


async def test_stopping_the_parent_stops_its_running_sub_task(engine: Engine) -> None:
    parent, child = await started_parent(engine)

    await engine.tasks.stop(organization_id=engine.organization_id, task_id=parent.id)
    await engine.worker.idle()

    assert (await engine.task(parent.id)).status == TaskStatus.STOPPED
    assert (await engine.task(child)).status == TaskStatus.STOPPED
    assert not engine.worker.runs(child)


async def test_a_resumed_parent_runs_its_cut_off_child_again_under_the_same_key(
    engine: Engine,
) -> None:
    parent, child = await started_parent(engine)
    await kill_worker(engine, parent.id, child)

    await engine.clock.advance(LEASE_S + 0.001)
    await engine.worker.sweep_once()
    assert (await engine.task(child)).status == TaskStatus.PENDING
    engine.models.called.clear()
    assert await engine.worker.claim_once(1) == 1  # the parent: the older of the two
    await engine.models.called.wait()

    rerun = await engine.task(child)
    assert (rerun.status, rerun.attempt, rerun.lease_owner) == (
        TaskStatus.EXECUTING,
        2,
        engine.worker.id,
    )
    cut_off, retried = engine.models.keys
    assert retried == cut_off
    engine.models.gate.set()
    done = await engine.settled(parent.id)

    assert (done.status, done.result, done.attempt) == (TaskStatus.COMPLETED, "done", 2)
    finished = await engine.task(child)
    assert (finished.status, finished.turn, finished.attempt) == (TaskStatus.COMPLETED, 1, 2)
    assert await children_of(engine, parent.id) == [(child, TaskStatus.COMPLETED)]


async def test_a_resumed_parent_takes_the_outcome_of_a_child_that_ended_meanwhile(
    engine: Engine,
) -> None:
    parent, child = await started_parent(engine)
    await kill_worker(engine, parent.id, child)
    await engine.clock.advance(LEASE_S + 0.001)
    await engine.worker.sweep_once()

    # the child ends first, on its own (as another worker's claim would run it)
    engine.models.gate.set()
    alone = await engine.worker.run_now(child)
    assert alone is not None
    ended = await alone
    assert ended is not None
    assert ended.status == TaskStatus.COMPLETED
    assert await engine.worker.claim_once(1) == 1
    done = await engine.settled(parent.id)

    assert (done.status, done.result) == (TaskStatus.COMPLETED, "done")
    assert engine.models.calls == 2  # the cut-off call and the child's rerun: no third
    finished = await engine.task(child)
    assert (finished.turn, finished.attempt) == (1, 2)
    assert await children_of(engine, parent.id) == [(child, TaskStatus.COMPLETED)]


async def test_a_sub_task_that_pauses_keeps_its_parent_waiting_until_it_ends(
    engine: Engine,
) -> None:
    engine.models.gate.set()
    child_workflow = await engine.deploy(approval_workflow())
    parent = (await engine.invoke(await engine.deploy(delegating(child_workflow)))).task
    child = child_id(parent.id, "ask")
    assert await engine.worker.claim_once(10) == 1
    stopped_at = await paused(engine, child)
    assert stopped_at.lease_owner is None  # a paused child holds no lease
    assert (await engine.task(parent.id)).status == TaskStatus.EXECUTING

    await engine.waits.decide(
        organization_id=engine.organization_id,
        task_id=child,
        approved=True,
        decided_by="ana",
        comment=None,
    )
    assert await engine.worker.claim_once(10) == 1  # the resumed child, like any task
    done = await engine.settled(parent.id)

    assert (done.status, done.result) == (TaskStatus.COMPLETED, "done")
    assert (await engine.task(child)).status == TaskStatus.COMPLETED
    finished = [e.data for e in await events_of(engine, parent.id) if e.type == "sub_task_finished"]
    assert [c["status"] for c in finished] == ["completed"]


async def test_the_next_turn_of_a_conversation_runs_its_sub_task_inline_again(
    engine: Engine,
) -> None:
    engine.models.gate.set()
    child_workflow = await engine.deploy(summarizer_workflow())
    workflow = await engine.deploy(delegating(child_workflow))
    parent = (await engine.invoke(workflow, "first")).task
    assert await engine.worker.claim_once(10) == 1
    assert (await engine.settled(parent.id)).status == TaskStatus.COMPLETED
    child = await engine.task(child_id(parent.id, "ask"))

    await engine.intake.invoke(
        Invocation(
            organization_id=engine.organization_id,
            workflow_id=workflow,
            version=None,
            input={"text": "second"},
            request={},
            task_id=parent.id,
        )
    )
    assert await engine.worker.claim_once(10) == 1  # the parent's turn 2 alone
    done = await engine.settled(parent.id)

    assert (done.status, done.turn) == (TaskStatus.COMPLETED, 2)
    again = await engine.task(child.id)
    assert (again.status, again.turn, again.attempt - again.attempt_base) == (
        TaskStatus.COMPLETED,
        2,
        1,
    )
    kinds = [e.type for e in await events_of(engine, child.id)]
    assert kinds.count("task_created") == 2
    assert engine.models.calls == 2
