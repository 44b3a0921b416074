"""Time: wall time, monotonic time and waiting, read through one object the engine is given.

The engine never reads the system clock or sleeps by itself: it asks its `Clock`. Production
uses `SystemClock`; tests hand the engine a `ManualClock` and move time on by hand, so a lease
expiring after 15 s or a back-off of a minute is a call to `advance()`, not a wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The wall time, timezone-aware UTC: what is stored."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: for deadlines and durations."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait(self, event: asyncio.Event, timeout_s: float) -> bool:
        """Wait until `event` is set or `timeout_s` passes; True when the event was set."""
        ...


def utcnow() -> datetime:
    """The system's wall time; for code outside the engine that stamps a row."""
    return datetime.now(UTC)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait(self, event: asyncio.Event, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await event.wait()
        return event.is_set()


class ManualClock:
    """Time that moves only when a test calls `advance()`. Sleepers wake in deadline order;
    `sleepers` lets a test wait until the code under test has started waiting."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._elapsed = 0.0
        self._order = itertools.count()
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._parked = asyncio.Condition()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    @property
    def sleepers(self) -> int:
        return sum(1 for *_, fut in self._timers if not fut.done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self._elapsed + seconds, next(self._order), fut))
        async with self._parked:
            self._parked.notify_all()
        await fut

    async def wait(self, event: asyncio.Event, timeout_s: float) -> bool:
        if event.is_set():
            return True
        waiter = asyncio.ensure_future(event.wait())
        timer = asyncio.ensure_future(self.sleep(timeout_s))
        try:
            await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (waiter, timer):
                fut.cancel()
        return event.is_set()

    async def until_sleeping(self, count: int = 1) -> None:
        """Return once at least `count` sleeps are pending: the code under test is idle."""
        async with self._parked:
            await self._parked.wait_for(lambda: self.sleepers >= count)

    async def advance(self, seconds: float) -> None:
        """Move time on and let every sleeper whose deadline passed run until it waits again."""
        target = self._elapsed + seconds
        while self._timers and self._timers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._timers)
            self._elapsed = max(self._elapsed, deadline)
            if not fut.done():
                fut.set_result(None)
                for _ in range(5):  # let the woken code reach its next await
                    await asyncio.sleep(0)
        self._elapsed = target
