"""The graph walk of one attempt, in-process on a manual clock, on SQLite and PostgreSQL:
checkpoints make a resumed attempt start at the first unfinished node, a re-run node gets
the same idempotency key, and writes of an attempt that lost its lease are fenced off."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from taskloom.store import node_runs as node_run_store
from taskloom.store.records import NodeRunRecord, NodeRunStatus, TaskStatus
from tests.conftest import test_settings as make_settings
from tests.support.engine import Engine, open_engine, summarizer_workflow

LEASE_S = 15.0


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Engine]:
    async with open_engine(make_settings(database_url, lease_s=LEASE_S)) as engine:
        yield engine


async def _runs(engine: Engine, task_id: str) -> list[NodeRunRecord]:
    async with engine.db.read() as conn:
        return await node_run_store.list_node_runs(conn, task_id=task_id)


async def test_a_chain_runs_every_node_once_in_order(engine: Engine) -> None:
    engine.models.gate.set()
    task = (await engine.invoke(await engine.deploy(summarizer_workflow(3)))).task

    assert await engine.worker.claim_once(10) == 1
    done = await engine.settled(task.id)

    assert (done.status, done.result) == (TaskStatus.COMPLETED, "done")
    runs = await _runs(engine, task.id)
    assert [(r.node_id, r.status) for r in runs] == [
        (node, NodeRunStatus.COMPLETED) for node in ("s0", "s1", "s2")
    ]


async def test_an_attempt_cut_off_mid_node_resumes_at_that_node_with_the_same_key(
    engine: Engine,
) -> None:
    engine.models.free = 1  # s0 answers; s1 hangs until the gate opens
    task = (await engine.invoke(await engine.deploy(summarizer_workflow(3)))).task
    assert await engine.worker.claim_once(10) == 1
    while engine.models.calls < 2:  # s0 done, s1 in flight
        engine.models.called.clear()
        await engine.models.called.wait()

    # the attempt dies with its lease held, as a killed process would leave it
    assert engine.worker.cancel(task.id)
    await engine.worker.idle()
    await engine.clock.advance(LEASE_S + 1)
    await engine.worker.sweep_once()
    engine.models.gate.set()
    assert await engine.worker.claim_once(10) == 1
    done = await engine.settled(task.id)

    assert (done.status, done.attempt) == (TaskStatus.COMPLETED, 2)
    runs = await _runs(engine, task.id)
    assert [(r.node_id, r.task_attempt) for r in runs] == [("s0", 1), ("s1", 2), ("s2", 2)]
    s0, s1_first, s1_again, s2 = engine.models.keys
    assert s1_first == s1_again  # the interrupted node runs again under the same key
    assert len({s0, s1_first, s2}) == 3


async def test_an_attempt_that_lost_its_lease_cannot_record_its_nodes_or_finish(
    engine: Engine,
) -> None:
    task = (await engine.invoke(await engine.deploy(summarizer_workflow(2)))).task
    assert await engine.worker.claim_once(10) == 1
    await engine.models.called.wait()  # s0 is in flight on attempt 1

    await engine.clock.advance(LEASE_S + 1)  # no heartbeat: the lease runs out
    await engine.worker.sweep_once()
    assert [t.id for t in await engine.claim_as("other-worker")] == [task.id]
    engine.models.gate.set()  # attempt 1's node answers, too late
    await engine.worker.idle()

    assert await _runs(engine, task.id) == []
    taken = await engine.task(task.id)
    assert (taken.status, taken.lease_owner, taken.attempt, taken.result) == (
        TaskStatus.EXECUTING,
        "other-worker",
        2,
        None,
    )
