"""Events nodes publish while they run (`chunk`, `tool_call_request`, ...), written in batches.

A model streams its answer in many small fragments; a transaction per fragment would cost
more than the model call. Chunks wait up to `delay_s` to be written together; any other event
writes what is waiting first, so the stream keeps the order the node emitted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

CHUNK = "chunk"

Write = Callable[[list[tuple[str, Any, datetime]]], Awaitable[None]]


class Emitter:
    """One attempt's outgoing node events; `flush()` before anything that must follow them."""

    def __init__(
        self,
        write: Write,
        *,
        now: Callable[[], datetime],
        delay_s: float,
        max_batch: int = 256,
    ) -> None:
        self._write = write
        self._now = now
        self._delay_s = delay_s
        self._max_batch = max_batch
        self._pending: list[tuple[str, Any, datetime]] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._failed: Exception | None = None  # a background write's failure, raised next

    async def emit(
        self,
        kind: str,
        data: Any,
        *,
        at: datetime | None = None,
        first: Sequence[tuple[str, Any, datetime]] = (),
    ) -> None:
        """Queue an event (after the `first` ones, written in the same batch)."""
        self._pending.extend(first)
        self._pending.append((kind, data, at or self._now()))
        if kind != CHUNK or len(self._pending) >= self._max_batch:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later(), name="emitter:flush")

    async def flush(self, write: Write | None = None) -> None:
        """Write what is pending. With `write`, hand it the batch instead (even an empty
        one), so that a caller can put the events in a transaction of its own, before what
        must follow them (a node's checkpoint: one commit instead of two)."""
        timer, self._timer = self._timer, None
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        if self._failed is not None:
            raise self._failed  # e.g. LeaseLost: the node learns it at its next event
        async with self._lock:  # writers of one task take turns: the log keeps emit order
            batch, self._pending = self._pending, []
            if write is not None:
                await write(batch)
            elif batch:
                await self._write(batch)

    async def close(self) -> None:
        """Drop the timer; what is still pending is written by the caller's last `flush()`."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._delay_s)
        self._timer = None
        try:
            await self.flush()
        except Exception as exc:
            self._failed = exc
