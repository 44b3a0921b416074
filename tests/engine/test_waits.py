"""Wait nodes, in-process on a manual clock, on SQLite and PostgreSQL: a paused task holds no
lease and no slot; a decision resumes it at its wait node (everything before is a
checkpoint); decisions are made once, whoever races; a deadline fires once, late but never
lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from taskloom import errors
from taskloom.store import events as event_store
from taskloom.store import node_runs as node_run_store
from taskloom.store.records import TaskRecord, TaskStatus
from tests.conftest import test_settings as make_settings
from tests.support.engine import Engine, approval_workflow, open_engine

LEASE_S = 15.0


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Engine]:
    async with open_engine(make_settings(database_url, lease_s=LEASE_S)) as engine:
        engine.models.gate.set()
        yield engine


async def paused_task(engine: Engine, **workflow: object) -> TaskRecord:
    task = (await engine.invoke(await engine.deploy(approval_workflow(**workflow)), "v2")).task
    assert await engine.worker.claim_once(10) == 1
    paused = await engine.settled(task.id)
    assert paused.status == TaskStatus.PAUSED
    return paused


async def decide(engine: Engine, task_id: str, approved: bool, by: str = "ana") -> TaskRecord:
    return await engine.waits.decide(
        organization_id=engine.organization_id,
        task_id=task_id,
        approved=approved,
        decided_by=by,
        comment="looks fine" if approved else "not yet",
    )


async def run_to_the_end(engine: Engine, task_id: str) -> TaskRecord:
    assert await engine.worker.claim_once(10) == 1
    return await engine.settled(task_id)


async def test_a_paused_task_holds_no_lease_and_shows_what_it_waits_for(engine: Engine) -> None:
    task = await paused_task(engine)

    assert task.lease_owner is None
    assert task.lease_expires_at is None
    assert task.paused_at == engine.clock.now()
    assert task.hitl_request is not None
    assert task.hitl_request["wait_node_id"] == "ask"
    assert task.hitl_request["title"] == "Ship it?"
    assert task.hitl_request["content"] == "v2"
    await engine.worker.idle()
    assert await engine.worker.claim_once(10) == 0  # nothing to run until a decision
    async with engine.db.read() as conn:
        kinds = [e.type for e in await event_store.events_after(conn, task_id=task.id, after_seq=0)]
    assert kinds[-2:] == ["task_paused", "hitl_requested"]


async def test_approval_resumes_at_the_wait_node_and_runs_on(engine: Engine) -> None:
    task = await paused_task(engine)

    resumed = await decide(engine, task.id, approved=True)
    assert resumed.status == TaskStatus.PENDING
    assert resumed.hitl_request is None
    done = await run_to_the_end(engine, task.id)

    assert (done.status, done.result) == (TaskStatus.COMPLETED, "done")
    async with engine.db.read() as conn:
        runs = await node_run_store.list_node_runs(conn, task_id=task.id)
    assert [r.node_id for r in runs] == ["ask", "ship"]
    assert runs[0].output["approved"] is True
    assert runs[0].output["decided_by"] == "ana"
    assert engine.models.calls == 1  # `ship` ran once, after the approval


async def test_a_rejection_without_a_route_for_it_ends_the_task_rejected(engine: Engine) -> None:
    task = await paused_task(engine)

    await decide(engine, task.id, approved=False)
    done = await run_to_the_end(engine, task.id)

    assert (done.status, done.status_reason) == (TaskStatus.ERROR, "rejected")
    assert engine.models.calls == 0  # `ship` never ran


async def test_a_rejection_takes_the_route_made_for_it(engine: Engine) -> None:
    task = await paused_task(engine, rejection_route=True)

    await decide(engine, task.id, approved=False)
    done = await run_to_the_end(engine, task.id)

    assert done.status == TaskStatus.COMPLETED
    async with engine.db.read() as conn:
        runs = await node_run_store.list_node_runs(conn, task_id=task.id)
    assert [r.node_id for r in runs] == ["ask", "fix"]


async def test_a_repeated_decision_is_idempotent_and_a_contrary_one_conflicts(
    engine: Engine,
) -> None:
    task = await paused_task(engine)
    await decide(engine, task.id, approved=True)

    again = await decide(engine, task.id, approved=True, by="bob")
    assert again.status == TaskStatus.PENDING
    with pytest.raises(errors.Conflict, match="approved by ana"):
        await decide(engine, task.id, approved=False)


async def test_two_racing_deciders_one_wins_the_other_conflicts(engine: Engine) -> None:
    task = await paused_task(engine)

    outcomes = await asyncio.gather(
        decide(engine, task.id, approved=True, by="ana"),
        decide(engine, task.id, approved=False, by="bob"),
        return_exceptions=True,
    )

    conflicts = [o for o in outcomes if isinstance(o, errors.Conflict)]
    wins = [o for o in outcomes if isinstance(o, TaskRecord)]
    assert (len(wins), len(conflicts)) == (1, 1)
    done = await run_to_the_end(engine, task.id)
    async with engine.db.read() as conn:
        runs = await node_run_store.list_node_runs(conn, task_id=task.id)
    winner_approved = runs[0].output["approved"]
    assert done.status == (TaskStatus.COMPLETED if winner_approved else TaskStatus.ERROR)


async def test_a_decision_on_a_task_that_does_not_wait_conflicts(engine: Engine) -> None:
    task = await paused_task(engine)
    await engine.tasks.stop(organization_id=engine.organization_id, task_id=task.id)

    with pytest.raises(errors.Conflict, match="not waiting"):
        await decide(engine, task.id, approved=True)
    stopped = await engine.task(task.id)
    assert stopped.status == TaskStatus.STOPPED
    assert await engine.worker.claim_once(10) == 0


async def test_another_organizations_task_is_not_found(engine: Engine) -> None:
    task = await paused_task(engine)

    with pytest.raises(errors.NotFound):
        await engine.waits.decide(
            organization_id="someone-else",
            task_id=task.id,
            approved=True,
            decided_by=None,
            comment=None,
        )


@pytest.mark.parametrize(
    ("on_timeout", "status", "reason", "approved"),
    [
        ("approve", TaskStatus.COMPLETED, None, True),
        ("reject", TaskStatus.ERROR, "rejected", False),
        ("error", TaskStatus.ERROR, "wait_timeout", None),
    ],
)
async def test_a_deadline_decides_by_its_on_timeout(
    engine: Engine,
    on_timeout: str,
    status: TaskStatus,
    reason: str | None,
    approved: bool | None,
) -> None:
    task = await paused_task(engine, timeout_s=3600, on_timeout=on_timeout)

    await engine.clock.advance(3599)
    assert await engine.waits.fire_due() == 0
    await engine.clock.advance(2)
    assert await engine.waits.fire_due() == 1
    assert await engine.waits.fire_due() == 0  # fired once
    done = await run_to_the_end(engine, task.id)

    assert (done.status, done.status_reason) == (status, reason)
    if approved is not None:
        async with engine.db.read() as conn:
            runs = await node_run_store.list_node_runs(conn, task_id=task.id)
        assert runs[0].output["approved"] is approved
        assert runs[0].output["decided_by"] == "timeout"


async def test_a_deadline_missed_during_downtime_fires_late_once(engine: Engine) -> None:
    task = await paused_task(engine, timeout_s=60, on_timeout="approve")

    await engine.clock.advance(7 * 24 * 3600)  # nobody swept for a week
    fired = await asyncio.gather(engine.waits.fire_due(), engine.waits.fire_due())

    assert sorted(fired) == [0, 1]
    assert (await run_to_the_end(engine, task.id)).status == TaskStatus.COMPLETED


async def test_a_decision_before_the_deadline_disarms_it(engine: Engine) -> None:
    task = await paused_task(engine, timeout_s=60, on_timeout="approve")
    await decide(engine, task.id, approved=False)

    await engine.clock.advance(120)
    assert await engine.waits.fire_due() == 0
    assert (await run_to_the_end(engine, task.id)).status_reason == "rejected"


async def test_a_wait_node_that_pauses_at_once_has_its_start_written_with_the_pause(
    database_url: str,
) -> None:
    # a debounce longer than any test: only the pause itself can write the node's start
    settings = make_settings(database_url, lease_s=LEASE_S, progress_delay_s=3600.0)
    async with open_engine(settings) as engine:
        task = await paused_task(engine)

        async with engine.db.read() as conn:
            events = await event_store.events_after(conn, task_id=task.id, after_seq=0)
    kinds = [event.type for event in events]
    assert kinds[-3:] == ["node_started", "task_paused", "hitl_requested"]
    assert events[-3].data["node_id"] == "ask"


async def test_a_callback_url_expires(engine: Engine) -> None:
    workflow = {
        "name": "callback",
        "orchestration_nodes": [
            {"id": "hook", "type": "wait", "definition": {"type": "webhook"}},
        ],
    }
    task = (await engine.invoke(await engine.deploy(workflow))).task
    assert await engine.worker.claim_once(10) == 1
    paused = await engine.settled(task.id)
    assert paused.hitl_request is not None
    token = paused.hitl_request["callback_url"].rsplit("/", 1)[1]

    await engine.clock.advance(8 * 24 * 3600)  # past the links' 7 days

    with pytest.raises(errors.Conflict, match="expired"):
        await engine.waits.resume_by_link(token=token, body={"late": True})
    assert (await engine.task(task.id)).status == TaskStatus.PAUSED


async def test_a_paused_task_can_be_stopped_and_then_no_decision_or_deadline_moves_it(
    engine: Engine,
) -> None:
    task = await paused_task(engine, timeout_s=60)

    stopped = await engine.tasks.stop(organization_id=engine.organization_id, task_id=task.id)
    assert stopped.status == TaskStatus.STOPPED

    with pytest.raises(errors.Conflict):
        await decide(engine, task.id, approved=True)
    await engine.clock.advance(120)
    assert await engine.waits.fire_due() == 0
    assert await engine.worker.claim_once(10) == 0
    assert (await engine.task(task.id)).status == TaskStatus.STOPPED
