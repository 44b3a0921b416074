"""A worker's loops never die silently: a claim loop that meets a bug is logged, shown down by
the health check, and started again after a back-off, on a manual clock. And a bug the
database reports while a task runs ends that task `error` / `internal_error` at once, rather
than being retried as a lost worker until `max_attempts`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from taskloom.engine import health
from taskloom.engine.supervisor import SideTaskState, Supervisor
from taskloom.store.records import TaskStatus
from tests.conftest import test_settings as make_settings
from tests.support import faults
from tests.support.engine import Engine, open_engine, summarizer_workflow


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Engine]:
    async with open_engine(make_settings(database_url, max_attempts=3)) as engine:
        yield engine


async def test_a_claim_loop_that_hits_a_bug_is_reported_down_and_restarted(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    task = (await engine.invoke(await engine.deploy(summarizer_workflow()))).task
    await faults.refuse(engine.db, table="tasks", when="NEW.lease_owner IS NOT NULL")
    running = asyncio.create_task(engine.worker.run())
    try:
        # the claim fails, the supervisor logs it and waits out its back-off
        await engine.worker.side_tasks.wait_for("claim", SideTaskState.DOWN)
        assert any(r.getMessage() == "side task died" for r in caplog.records)
        report = await health.check(
            engine.db, engine.worker, Supervisor(engine.clock, owner="test")
        )
        assert not report.ok
        assert report.workers["claim"]["state"] == "down"
        assert "StoreBug" in str(report.workers["claim"]["last_error"])

        await faults.heal(engine.db, table="tasks")
        await engine.clock.advance(60)  # past any back-off
        await engine.models.called.wait()  # restarted: it claimed the task and runs it

        assert engine.worker.side_tasks.states()["claim"] is SideTaskState.RUNNING
        assert (
            await health.check(engine.db, engine.worker, Supervisor(engine.clock, owner="test"))
        ).ok
        engine.models.gate.set()
        done = await engine.settled(task.id)
        assert (done.status, done.attempt) == (TaskStatus.COMPLETED, 1)
    finally:
        engine.worker.stop()
        await running


async def test_a_store_bug_during_a_run_ends_the_task_error_internal_error(
    engine: Engine,
) -> None:
    engine.models.gate.set()
    task = (await engine.invoke(await engine.deploy(summarizer_workflow()))).task
    await faults.refuse(engine.db, table="node_runs", when="NEW.node_id = 's0'")

    assert await engine.worker.claim_once(10) == 1
    done = await engine.settled(task.id)

    assert done.status == TaskStatus.ERROR
    assert done.status_reason == "internal_error"
    assert done.attempt == 1  # not retried as if its worker had been lost
