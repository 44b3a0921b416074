"""The queue's invariants, driven step by step on a manual clock, on SQLite and PostgreSQL:
claims lease tasks, heartbeats keep them, the sweeper takes back what a dead worker held, and
`max_attempts` ends a task that keeps losing its worker. No HTTP, no subprocess, no sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from taskloom.config import Settings
from taskloom.store import queue
from taskloom.store.records import Executor, TaskStatus
from tests.conftest import test_settings as make_settings
from tests.support.engine import Engine, open_engine, summarizer_workflow

LEASE_S = 15.0


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Engine]:
    settings: Settings = make_settings(database_url, lease_s=LEASE_S, max_attempts=2)
    async with open_engine(settings) as engine:
        yield engine


async def test_a_claim_leases_pending_tasks_oldest_first_and_only_once(engine: Engine) -> None:
    workflow = await engine.deploy(summarizer_workflow())
    first = (await engine.invoke(workflow)).task
    await engine.clock.advance(1)
    second = (await engine.invoke(workflow)).task

    claimed = await engine.claim_as("dead-worker")

    assert [t.id for t in claimed] == [first.id, second.id]
    assert all(t.status == TaskStatus.EXECUTING and t.attempt == 1 for t in claimed)
    assert claimed[0].lease_expires_at == engine.clock.now() + engine.lease
    assert await engine.claim_as("another-worker") == []
    assert await engine.worker.claim_once(10) == 0


async def test_engine_workers_leave_the_tasks_of_container_agents_alone(engine: Engine) -> None:
    agent = await engine.deploy(
        {"name": "mine", "deployment_type": "container", "instructions": {}}, kind="agent"
    )
    task = (await engine.invoke(agent)).task

    assert task.executor == Executor.SDK
    assert await engine.worker.claim_once(10) == 0
    assert (await engine.task(task.id)).status == TaskStatus.PENDING


async def test_a_lease_that_has_not_expired_is_not_swept(engine: Engine) -> None:
    task = (await engine.invoke(await engine.deploy(summarizer_workflow()))).task
    await engine.claim_as("dead-worker")

    await engine.clock.advance(LEASE_S - 0.001)
    await engine.worker.sweep_once()

    still = await engine.task(task.id)
    assert (still.status, still.lease_owner) == (TaskStatus.EXECUTING, "dead-worker")


async def test_an_expired_lease_is_requeued_and_the_next_claim_is_a_new_attempt(
    engine: Engine,
) -> None:
    task = (await engine.invoke(await engine.deploy(summarizer_workflow()))).task
    await engine.claim_as("dead-worker")

    await engine.clock.advance(LEASE_S + 0.001)
    await engine.worker.sweep_once()

    requeued = await engine.task(task.id)
    assert (requeued.status, requeued.lease_owner) == (TaskStatus.PENDING, None)
    assert await engine.worker.claim_once(10) == 1
    await engine.models.called.wait()  # the new attempt reached its node
    running = await engine.task(task.id)
    assert (running.lease_owner, running.attempt) == (engine.worker.id, 2)
    engine.models.gate.set()
    done = await engine.settled(task.id)
    assert (done.status, done.result, done.attempt) == (TaskStatus.COMPLETED, "done", 2)


async def test_a_task_out_of_attempts_fails_worker_lost_and_says_so(engine: Engine) -> None:
    task = (await engine.invoke(await engine.deploy(summarizer_workflow()))).task
    for _ in range(2):  # max_attempts=2
        assert len(await engine.claim_as("dead-worker")) == 1
        await engine.clock.advance(LEASE_S + 1)
        await engine.worker.sweep_once()

    failed = await engine.task(task.id)
    assert failed.status == TaskStatus.FAILED
    assert failed.status_reason == "worker_lost"
    assert failed.attempt == 2
    assert failed.lease_owner is None
    assert await engine.claim_as("dead-worker") == []


async def test_heartbeats_keep_a_running_task_past_its_first_lease(engine: Engine) -> None:
    task = (await engine.invoke(await engine.deploy(summarizer_workflow()))).task
    assert await engine.worker.claim_once(10) == 1
    await engine.models.called.wait()

    for _ in range(4):  # four lease lengths, renewed at every third of one
        for _ in range(3):
            await engine.clock.advance(LEASE_S / 3)
            await engine.worker.heartbeat_once()
        await engine.worker.sweep_once()

    running = await engine.task(task.id)
    assert running.status == TaskStatus.EXECUTING
    assert running.lease_owner == engine.worker.id
    assert running.lease_expires_at == engine.clock.now() + engine.lease
    engine.models.gate.set()
    assert (await engine.settled(task.id)).status == TaskStatus.COMPLETED


async def test_a_worker_that_lost_its_lease_cancels_the_run_and_cannot_finish_it(
    engine: Engine,
) -> None:
    task = (await engine.invoke(await engine.deploy(summarizer_workflow()))).task
    assert await engine.worker.claim_once(10) == 1
    await engine.models.called.wait()

    # the worker looked dead (no heartbeat for a lease) and another one took the task over
    await engine.clock.advance(LEASE_S + 1)
    await engine.worker.sweep_once()
    assert [t.id for t in await engine.claim_as("other-worker")] == [task.id]

    await engine.worker.heartbeat_once()  # learns it lost the task: its run is cancelled
    engine.models.gate.set()
    await engine.worker.drain()

    taken = await engine.task(task.id)
    assert (taken.status, taken.lease_owner, taken.attempt) == (
        TaskStatus.EXECUTING,
        "other-worker",
        2,
    )
    assert taken.result is None


async def test_release_hands_unfinished_tasks_back_at_once(engine: Engine) -> None:
    task = (await engine.invoke(await engine.deploy(summarizer_workflow()))).task
    assert await engine.worker.claim_once(10) == 1
    await engine.models.called.wait()

    await engine.worker.release_leases()  # a graceful shutdown, without waiting for the sweep

    released = await engine.task(task.id)
    assert (released.status, released.lease_owner) == (TaskStatus.PENDING, None)


async def test_a_task_never_starts_before_it_was_created(engine: Engine) -> None:
    # a claimer reads its clock, then waits for the database; an invoke commits meanwhile
    before = engine.clock.now()
    await engine.clock.advance(0.5)
    task = (await engine.invoke(await engine.deploy(summarizer_workflow()))).task
    async with engine.db.write() as conn:
        (claimed,) = await queue.claim_tasks(
            conn,
            worker_id="slow-worker",
            limit=1,
            now=before,
            lease_for=engine.lease,
            skip_locked=not engine.db.is_sqlite,
        )

    assert claimed.id == task.id
    assert claimed.started_at is not None
    assert claimed.started_at >= claimed.created_at
