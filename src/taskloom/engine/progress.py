"""Deferred `node_started` events: one write per node run instead of two.

Most nodes finish within milliseconds, and a `node_started` written on its own would cost a
transaction of its own. A StartNotice waits `delay_s`: if the node is still running then, the
event is written (a client drawing progress sees the slow node start); if not, the event is
written with the node's finish, in the same transaction, stamped with the real start time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any


class StartNotice:
    def __init__(
        self,
        payload: dict[str, Any],
        *,
        at: datetime,
        delay_s: float,
        publish: Callable[[dict[str, Any], datetime], Coroutine[Any, Any, None]],
    ) -> None:
        self.payload = payload
        self.at = at
        self._publish = publish
        self._written: asyncio.Future[None] | None = None
        # a loop timer, not the engine's clock: a debounce of real work in flight, and far
        # cheaper per node run than a task that sleeps
        self._timer = asyncio.get_running_loop().call_later(delay_s, self._fire)

    def _fire(self) -> None:
        self._written = asyncio.create_task(
            self._publish(self.payload, self.at), name=f"node-started:{self.payload['node_id']}"
        )

    async def settle(self) -> tuple[dict[str, Any], datetime] | None:
        """Stop the timer. Returns the event still to be written with the finish (or with the
        node's first event of its own, which must come after it), or None when it is written
        already (waiting for that write, so the order holds)."""
        self._timer.cancel()
        if self._written is None:
            # from now on it counts as written: the caller writes it with the finish
            self._written = asyncio.get_running_loop().create_future()
            self._written.set_result(None)
            return self.payload, self.at
        await self._written
        return None

    def cancel(self) -> None:
        """The run ends without a finish to write (cancelled, paused, lease lost): drop what
        is not written. A write already under way may still land, or fail with LeaseLost
        when what ended the run committed first; either outcome is fine, and is collected
        here so that it is never reported as an unretrieved error."""
        self._timer.cancel()
        if isinstance(self._written, asyncio.Task):
            if self._written.done():
                _collect(self._written)
            else:
                self._written.add_done_callback(_collect)


def _collect(write: asyncio.Future[None]) -> None:
    if not write.cancelled():
        write.exception()
