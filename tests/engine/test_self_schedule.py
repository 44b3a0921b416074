"""self_schedule nodes, in-process on a manual clock, on SQLite and PostgreSQL: the task
pauses until the time its node names (a store timer, not a sleep), continues at the target
node with the node's prompt, and passes on once it has rescheduled `max_reschedules` times."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from taskloom import errors
from taskloom.engine.wire import iso
from taskloom.store import events as event_store
from taskloom.store import node_runs as node_run_store
from taskloom.store import waits as wait_store
from taskloom.store.records import TaskRecord, TaskStatus
from tests.conftest import test_settings as make_settings
from tests.support.engine import Engine, open_engine

HOUR = 3600.0


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Engine]:
    async with open_engine(make_settings(database_url)) as engine:
        engine.models.gate.set()
        yield engine


def digest_workflow(*, when: str = "PT1H", max_reschedules: int = 2) -> dict[str, Any]:
    """`digest` (a model call), then `later`, which brings the task back to `digest`."""
    return {
        "name": "digest",
        "orchestration_nodes": [
            {
                "id": "digest",
                "type": "summarizer",
                "name": "digest",
                "definition": {},
                "next_node_ids": ["later"],
            },
            {
                "id": "later",
                "type": "self_schedule",
                "name": "later",
                "definition": {
                    "when": when,
                    "target_node_id": "digest",
                    "prompt": "what changed since?",
                    "max_reschedules": max_reschedules,
                },
            },
        ],
    }


async def run_attempt(engine: Engine, task_id: str) -> TaskRecord:
    assert await engine.worker.claim_once(10) == 1
    return await engine.settled(task_id)


async def node_ids(engine: Engine, task_id: str) -> list[str]:
    async with engine.db.read() as conn:
        return [r.node_id for r in await node_run_store.list_node_runs(conn, task_id=task_id)]


async def test_the_task_pauses_until_its_time_then_continues_at_the_target(
    engine: Engine,
) -> None:
    task = (await engine.invoke(await engine.deploy(digest_workflow()), "news")).task
    started = engine.clock.now()

    paused = await run_attempt(engine, task.id)
    assert paused.status == TaskStatus.PAUSED
    assert paused.lease_owner is None
    assert paused.hitl_request is not None
    assert paused.hitl_request["type"] == "schedule"
    assert paused.hitl_request["expires_at"] == iso(started + timedelta(hours=1))
    assert engine.models.calls == 1

    await engine.clock.advance(HOUR - 1)
    assert await engine.waits.fire_due() == 0  # not yet
    await engine.clock.advance(1)
    assert await engine.waits.fire_due() == 1
    assert await engine.waits.fire_due() == 0  # once

    again = await run_attempt(engine, task.id)
    assert again.status == TaskStatus.PAUSED  # the second of two reschedules
    assert engine.models.calls == 2  # `digest` ran again, `later` did not re-run it twice
    await engine.clock.advance(HOUR)
    assert await engine.waits.fire_due() == 1

    done = await run_attempt(engine, task.id)
    assert (done.status, done.result) == (TaskStatus.COMPLETED, "done")
    assert await node_ids(engine, task.id) == ["digest", "later"] * 3
    async with engine.db.read() as conn:
        runs = await node_run_store.list_node_runs(conn, task_id=task.id)
    assert runs[1].output == "what changed since?"  # what `digest` got the second time
    assert engine.models.calls == 3


async def test_a_timer_due_during_downtime_fires_late_and_once(engine: Engine) -> None:
    task = (await engine.invoke(await engine.deploy(digest_workflow(max_reschedules=1)))).task
    await run_attempt(engine, task.id)

    await engine.clock.advance(3 * HOUR)  # nobody swept while the timer came and went
    assert await engine.waits.fire_due() == 1
    done = await run_attempt(engine, task.id)

    assert done.status == TaskStatus.COMPLETED
    assert await node_ids(engine, task.id) == ["digest", "later", "digest", "later"]


async def test_free_text_is_read_by_the_model_once(engine: Engine) -> None:
    due = engine.clock.now() + timedelta(days=1)
    engine.models.answer = due.isoformat()
    workflow = {
        "name": "remind",
        "orchestration_nodes": [
            {
                "id": "later",
                "type": "self_schedule",
                "definition": {"when": "tomorrow, same time", "target_node_id": "later"},
            }
        ],
    }
    task = (await engine.invoke(await engine.deploy(workflow), "call Ana")).task

    paused = await run_attempt(engine, task.id)
    assert paused.hitl_request is not None
    assert paused.hitl_request["expires_at"] == iso(due)
    async with engine.db.read() as conn:
        wait = await wait_store.latest_wait(conn, task_id=task.id, turn=1)
        kinds = [e.type for e in await event_store.events_after(conn, task_id=task.id, after_seq=0)]
    assert wait is not None
    assert wait.due_at == due
    assert "hitl_requested" not in kinds  # nobody is asked anything
    await engine.clock.advance(24 * HOUR)
    assert await engine.waits.fire_due() == 1

    done = await run_attempt(engine, task.id)
    assert (done.status, done.result) == (TaskStatus.COMPLETED, "call Ana")
    assert engine.models.calls == 1  # the fired run does not ask the model again


async def test_a_time_the_model_cannot_give_ends_the_task(engine: Engine) -> None:
    engine.models.answer = "whenever you like"
    workflow = {
        "name": "remind",
        "orchestration_nodes": [
            {
                "id": "later",
                "type": "self_schedule",
                "definition": {"when": "when the moon is full", "target_node_id": "later"},
            }
        ],
    }
    task = (await engine.invoke(await engine.deploy(workflow))).task

    done = await run_attempt(engine, task.id)

    assert (done.status, done.status_reason) == (TaskStatus.ERROR, "bad_schedule")
    assert "whenever you like" in (done.status_message or "")


async def test_a_person_cannot_approve_a_timer(engine: Engine) -> None:
    task = (await engine.invoke(await engine.deploy(digest_workflow()))).task
    await run_attempt(engine, task.id)

    with pytest.raises(errors.Conflict, match="not waiting for a hitl decision"):
        await engine.waits.decide(
            organization_id=engine.organization_id,
            task_id=task.id,
            approved=True,
            decided_by="ana",
            comment=None,
        )
