"""In-process wake-ups: new work for the workers, and task changes for waiting requests.

They are hints, never the truth: every waiter re-reads the store after waking, and falls back
to polling so that changes made by other processes are seen too.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager


class Notifier:
    def __init__(self) -> None:
        self._work = asyncio.Event()
        self._changed: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    def work_available(self) -> None:
        self._work.set()

    async def wait_for_work(self, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                await self._work.wait()
        except TimeoutError:
            pass
        self._work.clear()

    def task_changed(self, task_id: str) -> None:
        for waiter in self._changed.pop(task_id, ()):
            waiter.set()

    @contextmanager
    def watch(self, task_id: str) -> Iterator[Watch]:
        """Register interest in `task_id` before reading it, so no change slips in between."""
        watch = Watch()
        self._changed[task_id].add(watch.event)
        try:
            yield watch
        finally:
            waiters = self._changed.get(task_id)
            if waiters is not None:
                waiters.discard(watch.event)
                if not waiters:
                    del self._changed[task_id]


class Watch:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def wait(self, timeout_s: float) -> None:
        """Return when the watched task changes in this process, or after `timeout_s`."""
        try:
            async with asyncio.timeout(timeout_s):
                await self.event.wait()
        except TimeoutError:
            pass
