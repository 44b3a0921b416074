"""A node's deferred `node_started`: a run that ends without a finish (paused, stopped, lease
lost) while the event is being written leaves no unretrieved error behind."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime
from typing import Any

from taskloom import errors
from taskloom.engine.progress import StartNotice
from taskloom.store import events as event_store
from taskloom.store.records import TaskStatus
from tests.conftest import test_settings as make_settings
from tests.support.engine import open_engine, summarizer_workflow


async def test_a_notice_cancelled_while_its_write_fails_reports_nothing() -> None:
    reported: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    writing = asyncio.Event()

    async def publish(payload: dict[str, Any], at: datetime) -> None:
        writing.set()
        raise errors.LeaseLost("task", 1)  # the pause committed first

    notice = StartNotice({"node_id": "ask"}, at=datetime.now(UTC), delay_s=0, publish=publish)
    await writing.wait()  # the timer fired and the write ran
    notice.cancel()
    del notice
    gc.collect()

    assert reported == []


async def test_an_event_a_node_sends_before_its_start_is_out_comes_after_its_start(
    database_url: str,
) -> None:
    # a start debounced for longer than the test: only the node's own event can bring it out
    settings = make_settings(database_url, progress_delay_s=3600.0)
    async with open_engine(settings) as engine:
        engine.models.gate.set()
        child = await engine.deploy(summarizer_workflow())
        parent = await engine.deploy(
            {
                "name": "nest",
                "orchestration_nodes": [
                    {"id": "inner", "type": "orchestration", "definition": {"asset_id": child}}
                ],
            }
        )
        task = (await engine.invoke(parent)).task
        # the parent; the worker takes its child as it comes
        assert await engine.worker.claim_once(10) == 1
        done = await engine.settled(task.id)
        assert done.status == TaskStatus.COMPLETED
        async with engine.db.read() as conn:
            events = await event_store.events_after(conn, task_id=task.id, after_seq=0)
    kinds = [event.type for event in events if event.type != "task_updated"]
    assert kinds[1:5] == ["node_started", "sub_task_created", "sub_task_finished", "node_finished"]
