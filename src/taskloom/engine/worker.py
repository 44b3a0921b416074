"""A worker: claims pending tasks, keeps their leases alive, and recovers dead workers' tasks.

Three named side loops, supervised (a loop that dies is logged and started again, and
`/health` shows it down meanwhile): the claim loop fills free slots, the heartbeat renews this
worker's leases (and cancels any task it turns out to no longer own), the sweeper requeues the
tasks of workers whose leases expired. Each loop is a thin `while` around a step tests call
directly, on a manual clock.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from taskloom import errors
from taskloom.clock import Clock, SystemClock
from taskloom.config import WorkerConfig
from taskloom.engine import lifecycle
from taskloom.engine.notify import Notifier
from taskloom.engine.runner import Runner
from taskloom.engine.supervisor import Supervisor
from taskloom.store import queue
from taskloom.store.database import Database
from taskloom.store.records import Lease, TaskRecord

logger = logging.getLogger(__name__)

_CLAIM_BATCH = 32


class Worker:
    def __init__(
        self,
        db: Database,
        runner: Runner,
        notifier: Notifier,
        config: WorkerConfig,
        *,
        clock: Clock | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self._clock = clock or SystemClock()
        self.side_tasks = Supervisor(self._clock, owner=self.id)
        self._db = db
        self._runner = runner
        self._notifier = notifier
        self._config = config
        self._lease = timedelta(seconds=config.lease_s)
        self._running: dict[str, tuple[asyncio.Task[Any], int]] = {}
        # sub-tasks run inside their parent's slot (it waits on them): not counted as slots
        self._beside: set[str] = set()
        self._stopping = asyncio.Event()
        self._closed = asyncio.Event()
        self._slot_freed = asyncio.Event()
        notifier.add_worker(self)

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Work until stop(); then drain within the grace period and hand back the rest."""
        logger.info("worker started", extra={"event": "worker_started", "worker_id": self.id})
        side = self.side_tasks
        side.start("heartbeat", lambda: self._every(self._config.heartbeat_s, self.heartbeat_once))
        side.start("sweeper", lambda: self._every(self._config.sweep_s, self.sweep_once))
        side.start("claim", self._claim_loop)
        try:
            await self._stopping.wait()
        finally:
            # a claim cancelled after its commit leaves leases on tasks never started: the
            # drain's release hands them back with the rest
            await side.stop("claim")
            try:
                await self.drain()  # heartbeats go on meanwhile: the leases stay ours
            finally:
                self._closed.set()
                await side.stop()
        logger.info("worker stopped", extra={"event": "worker_stopped", "worker_id": self.id})

    def stop(self) -> None:
        self._stopping.set()
        self._notifier.work_available()

    def cancel(self, task_id: str) -> bool:
        """Interrupt a task this worker runs (it was stopped through the API)."""
        running = self._running.get(task_id)
        if running is None:
            return False
        running[0].cancel()
        return True

    def runs(self, task_id: str) -> bool:
        return task_id in self._running

    def lease(self) -> Lease:
        """A new lease of this worker's, for a task accepted already held (a sub-task)."""
        return Lease(self.id, self._clock.now() + self._lease)

    def run_held(self, task: TaskRecord) -> asyncio.Task[TaskRecord | None]:
        """Run an attempt this worker holds already (a sub-task accepted under its `lease()`)
        inside its parent's slot; the parent awaits it. Its lease is renewed, and a stop
        reaches it, like any other running here."""
        return self._start(task, beside=True)

    async def run_now(self, task_id: str) -> asyncio.Task[TaskRecord | None] | None:
        """Claim this pending task and start it at once, inside its parent's slot (a sub-task
        whose parent resumed). None when it is not pending: another worker has it, or it is
        done."""
        now = self._clock.now()
        async with self._db.write() as conn:
            claimed = await queue.claim_task_ids(
                conn, task_ids=[task_id], worker_id=self.id, now=now, lease_for=self._lease
            )
            await lifecycle.publish_tasks(conn, claimed, lifecycle.TASK_UPDATED, now=now)
        if not claimed:
            return None
        self._notifier.task_changed(task_id)
        return self._start(claimed[0], beside=True)

    # -- the claim loop --------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while True:
            free = self._config.concurrency - (len(self._running) - len(self._beside))
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            asked = min(free, _CLAIM_BATCH)
            try:
                claimed = await self.claim_once(asked)
            except errors.StoreUnavailable:
                # the database is down or saturated: keep the worker, try again shortly
                logger.warning("claim failed", exc_info=True, extra={"event": "claim_failed"})
                claimed = 0
            if claimed < asked:
                # the queue had no more: asking again at once would only cost a write
                # transaction; work accepted since the claim began has woken us already
                await self._notifier.wait_for_work(self._config.poll_s)

    async def claim_once(self, limit: int) -> int:
        now = self._clock.now()
        async with self._db.write() as conn:
            claimed = await queue.claim_tasks(
                conn,
                worker_id=self.id,
                limit=limit,
                now=now,
                lease_for=self._lease,
                skip_locked=not self._db.is_sqlite,
            )
            await lifecycle.publish_tasks(conn, claimed, lifecycle.TASK_UPDATED, now=now)
        for task in claimed:
            self._notifier.task_changed(task.id)
            self._start(task)
        return len(claimed)

    def _start(self, task: TaskRecord, *, beside: bool = False) -> asyncio.Task[TaskRecord | None]:
        logger.debug(
            "task claimed",
            extra={
                "event": "task_claimed",
                "task_id": task.id,
                "attempt": task.attempt,
                "worker_id": self.id,
            },
        )
        running = asyncio.create_task(self._execute(task), name=f"task:{task.id}")
        self._running[task.id] = (running, task.attempt)
        if beside:
            self._beside.add(task.id)
        return running

    async def _execute(self, task: TaskRecord) -> TaskRecord | None:
        """The attempt, to how it left the task (None: it did not end it, see Runner.run)."""
        try:
            return await self._runner.run(task)
        except asyncio.CancelledError:
            logger.info(
                "task interrupted",
                extra={"event": "task_interrupted", "task_id": task.id, "worker_id": self.id},
            )
            raise
        except Exception:
            # the executor boundary: keep the worker alive; the lease will expire and the
            # sweeper requeues the task (or fails it after max_attempts)
            logger.exception(
                "task crashed the runner", extra={"event": "runner_crashed", "task_id": task.id}
            )
            return None
        finally:
            self._running.pop(task.id, None)
            self._beside.discard(task.id)
            self._slot_freed.set()

    async def idle(self) -> None:
        """Return once the tasks running here now have ended, however they end."""
        await asyncio.gather(*(task for task, _ in self._running.values()), return_exceptions=True)

    async def drain(self) -> None:
        """Wait out the grace period for running tasks, cancel the rest, release leases."""
        tasks = [task for task, _ in self._running.values()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self._config.shutdown_grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.release_leases()

    async def release_leases(self) -> None:
        """Hand unfinished tasks back to the queue at once instead of waiting for the sweeper."""
        now = self._clock.now()
        async with self._db.write() as conn:
            released = await queue.release_leases(conn, worker_id=self.id, now=now)
            await lifecycle.publish_tasks(conn, released, lifecycle.TASK_UPDATED, now=now)
        if released:
            logger.info(
                "leases released",
                extra={"event": "leases_released", "worker_id": self.id, "count": len(released)},
            )
            for task in released:
                self._notifier.task_changed(task.id)
            self._notifier.work_available()

    # -- side loops ------------------------------------------------------------------------

    async def _every(self, interval_s: float, step: Callable[[], Awaitable[None]]) -> None:
        while not await self._clock.wait(self._closed, interval_s):
            try:
                await step()
            except Exception:
                # one failed renewal or sweep is retried at the next tick; the loop lives on
                logger.exception(
                    "side loop step failed",
                    extra={"event": "side_loop_failed", "worker_id": self.id},
                )

    async def heartbeat_once(self) -> None:
        # only tasks started before the renewal can be judged by its answer
        before = dict(self._running)
        async with self._db.write() as conn:
            owned = await queue.renew_leases(
                conn,
                worker_id=self.id,
                task_ids=list(before),
                now=self._clock.now(),
                lease_for=self._lease,
            )
        for task_id, (task, attempt) in before.items():
            if owned.get(task_id) != attempt:  # stopped, or requeued to another worker
                task.cancel()

    async def sweep_once(self) -> None:
        """Requeue the tasks of workers that stopped heartbeating; fail those out of
        attempts (`worker_lost`), which ends their turn like any other outcome."""
        now = self._clock.now()
        started: list[TaskRecord] = []
        async with self._db.write() as conn:
            requeued, failed = await queue.sweep_expired_leases(conn, now=now)
            await lifecycle.publish_tasks(conn, requeued, lifecycle.TASK_UPDATED, now=now)
            for task in failed:
                next_turn = await lifecycle.finished(conn, task, now=now)
                if next_turn is not None:
                    started.append(next_turn)
        if not (requeued or failed):
            return
        logger.warning(
            "expired leases swept",
            extra={"event": "leases_swept", "requeued": len(requeued), "failed": len(failed)},
        )
        for task in [*requeued, *failed]:
            self._notifier.task_changed(task.id)
        if requeued or started:
            self._notifier.work_available()
