"""A node's deferred `node_started`: a run that ends without a finish (paused, stopped, lease
lost) while the event is being written leaves no unretrieved error behind."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime
from typing import Any

from taskloom import errors
from taskloom.engine.progress import StartNotice


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
