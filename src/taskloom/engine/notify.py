"""Wake-ups: new work for the workers, and task changes for waiting requests and streams.

They are hints, never the truth: every waiter re-reads the store after waking, and falls back
to polling. On PostgreSQL the hints also travel between processes through LISTEN/NOTIFY
(coalesced, sent after the change committed), so a stream served by one process sees a task
run by another at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from taskloom import errors
from taskloom.clock import Clock, SystemClock
from taskloom.store.database import Database
from taskloom.store.records import Lease, TaskRecord

logger = logging.getLogger(__name__)

CHANNEL = "taskloom"
_WORK = "w"
_TASK = "t:"


class LocalWorker(Protocol):
    """A worker of this process, as the rest of the engine may ask things of it."""

    def cancel(self, task_id: str) -> bool: ...

    def runs(self, task_id: str) -> bool: ...

    def lease(self) -> Lease: ...

    def run_held(self, task: TaskRecord) -> asyncio.Task[TaskRecord | None]: ...

    async def run_now(self, task_id: str) -> asyncio.Task[TaskRecord | None] | None: ...


class Notifier:
    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._workers: list[LocalWorker] = []
        self._work = asyncio.Event()
        # every waiter of wait_for_any_work wakes (SDK worker streams); `_work` wakes one loop
        self._any_work = asyncio.Event()
        self._changed: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._outbox: set[str] = set()
        self._outbox_ready = asyncio.Event()
        self._relaying = False
        self.listening = asyncio.Event()  # set while hints from other processes arrive

    def work_available(self) -> None:
        self._wake_work()
        self._send(_WORK)

    def _wake_work(self) -> None:
        self._work.set()
        woken, self._any_work = self._any_work, asyncio.Event()
        woken.set()

    async def wait_for_any_work(self, timeout_s: float) -> None:
        """Like wait_for_work, for many waiters: each one wakes on the next hint."""
        await self._clock.wait(self._any_work, timeout_s)

    async def wait_for_work(self, timeout_s: float) -> None:
        await self._clock.wait(self._work, timeout_s)
        self._work.clear()

    # -- this process's workers ------------------------------------------------------------

    def add_worker(self, worker: LocalWorker) -> None:
        """A worker joins at construction: then a stop or a sub-task reaches it without the
        services that ask needing the worker (which is built after them)."""
        self._workers.append(worker)

    def task_stopped(self, task_id: str) -> None:
        """Interrupt the task now if it runs here; elsewhere its worker's next heartbeat sees
        the stop."""
        for worker in self._workers:
            worker.cancel(task_id)
        self.task_changed(task_id)

    def worker_of(self, task_id: str) -> LocalWorker | None:
        """The worker of this process that runs `task_id` now, if one does (the parent of a
        sub-task about to start: the sub-task runs in its slot)."""
        for worker in self._workers:
            if worker.runs(task_id):
                return worker
        return None

    def task_changed(self, task_id: str) -> None:
        self._wake(task_id)
        self._send(_TASK + task_id)

    def _wake(self, task_id: str) -> None:
        for waiter in self._changed.pop(task_id, ()):
            waiter.set()

    @contextmanager
    def watch(self, task_id: str) -> Iterator[Watch]:
        """Register interest in `task_id` before reading it, so no change slips in between."""
        watch = Watch(self._clock)
        self._changed[task_id].add(watch.event)
        try:
            yield watch
        finally:
            waiters = self._changed.get(task_id)
            if waiters is not None:
                waiters.discard(watch.event)
                if not waiters:
                    del self._changed[task_id]

    # -- between processes (PostgreSQL) ------------------------------------------------------

    def _send(self, payload: str) -> None:
        if self._relaying:
            self._outbox.add(payload)
            self._outbox_ready.set()

    def _receive(self, payload: str) -> None:
        if payload == _WORK:
            self._wake_work()
        elif payload.startswith(_TASK):
            self._wake(payload[len(_TASK) :])

    async def relay(self, db: Database) -> None:
        """Share hints with every other process on this PostgreSQL database until the
        listening connection is lost; then raise, for the supervisor to start it again
        (meanwhile every waiter still polls)."""
        lost = asyncio.Event()
        async with (
            db.listen(CHANNEL, self._receive, on_lost=lost.set),
            asyncio.TaskGroup() as group,
        ):
            self._relaying = True
            self.listening.set()
            sender = group.create_task(self._send_loop(db), name="notify-sender")
            try:
                await lost.wait()
                raise errors.StoreUnavailable("the connection listening for hints was lost")
            finally:
                self._relaying = False
                self.listening.clear()
                sender.cancel()

    async def _send_loop(self, db: Database) -> None:
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            payloads, self._outbox = sorted(self._outbox), set()
            try:
                await db.notify(CHANNEL, payloads)
            except Exception:
                # a lost hint only costs latency: every waiter also polls
                logger.warning(
                    "could not send wake-up hints", exc_info=True, extra={"event": "notify_failed"}
                )


class Watch:
    def __init__(self, clock: Clock) -> None:
        self.event = asyncio.Event()
        self._clock = clock

    async def wait(self, timeout_s: float) -> None:
        """Return when the watched task changes, or after `timeout_s`."""
        await self._clock.wait(self.event, timeout_s)
