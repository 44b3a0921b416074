"""A parallel node's branches, in-process on a manual clock, on SQLite and PostgreSQL: branches
that finish together are checkpointed in one transaction, and an attempt cut off mid-fan-out
resumes with the branches whose checkpoints committed not run again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from taskloom.store import node_runs as node_run_store
from taskloom.store.records import NodeRunRecord, TaskStatus
from tests.conftest import test_settings as make_settings
from tests.support.engine import Engine, WriteSpy, open_engine

LEASE_S = 15.0
BRANCHES = 5


def fan_out_workflow(branches: int = BRANCHES) -> dict[str, Any]:
    """A parallel node of `branches` summarizers: every branch is one call to the model."""
    children = [
        {"id": f"b{i}", "type": "summarizer", "name": f"b{i}", "definition": {}}
        for i in range(branches)
    ]
    return {
        "name": "fan-out",
        "orchestration_nodes": [
            {"id": "fan", "type": "parallel", "name": "fan", "definition": {"nodes": children}}
        ],
    }


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Engine]:
    # no node_started written on its own while a branch waits: every write counted below is
    # a checkpoint or the attempt's end
    settings = make_settings(database_url, lease_s=LEASE_S, progress_delay_s=3600.0)
    async with open_engine(settings) as engine:
        yield engine


async def _branch_runs(engine: Engine, task_id: str) -> list[NodeRunRecord]:
    async with engine.db.read() as conn:
        runs = await node_run_store.list_node_runs(conn, task_id=task_id)
    return [run for run in runs if run.node_id != "fan"]


async def _all_called(engine: Engine, calls: int) -> None:
    while engine.models.calls < calls:
        engine.models.called.clear()
        await engine.models.called.wait()


async def test_branches_that_finish_together_are_checkpointed_in_one_transaction(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = (await engine.invoke(await engine.deploy(fan_out_workflow()))).task
    assert await engine.worker.claim_once(10) == 1
    await _all_called(engine, BRANCHES)  # every branch waits on its model

    writes = WriteSpy.on(engine.db, monkeypatch)
    engine.models.gate.set()  # they all answer at once
    done = await engine.settled(task.id)

    assert done.status == TaskStatus.COMPLETED
    assert len(await _branch_runs(engine, task.id)) == BRANCHES
    # one for the five branches, one that ends the attempt (the parallel node's own run goes
    # with the finish); a transaction per branch made it six
    assert writes.count == 2


async def test_an_attempt_cut_off_mid_fan_out_runs_only_the_unfinished_branches_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.models.free = 3  # three branches answer at once; two hang until the gate opens
    task = (await engine.invoke(await engine.deploy(fan_out_workflow()))).task
    writes = WriteSpy.on(engine.db, monkeypatch)
    assert await engine.worker.claim_once(10) == 1
    await _all_called(engine, BRANCHES)
    while writes.count < 2:  # the claim, then the three answered branches' checkpoints
        writes.committed.clear()
        await writes.committed.wait()
    first_try = list(engine.models.keys)

    # the attempt dies with its lease held, as a killed process would leave it
    assert engine.worker.cancel(task.id)
    await engine.worker.idle()
    await engine.clock.advance(LEASE_S + 1)
    await engine.worker.sweep_once()
    engine.models.gate.set()
    assert await engine.worker.claim_once(10) == 1
    done = await engine.settled(task.id)

    assert (done.status, done.attempt) == (TaskStatus.COMPLETED, 2)
    runs = await _branch_runs(engine, task.id)
    assert sorted(run.task_attempt for run in runs) == [1, 1, 1, 2, 2]
    assert len({run.node_id for run in runs}) == BRANCHES  # each branch completed once
    # only the two that hung ran again, under the keys they had the first time
    again = engine.models.keys[BRANCHES:]
    assert sorted(again) == sorted(first_try[3:])
