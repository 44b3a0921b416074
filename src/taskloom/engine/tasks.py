"""Task operations behind the API once a task exists: read it, wait for an outcome, follow
its event log, stop, delete. Accepting an invoke is `intake.py`'s."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

from taskloom.clock import Clock, SystemClock
from taskloom.config import WorkerConfig
from taskloom.engine import lifecycle
from taskloom.engine.notify import Notifier
from taskloom.store import events as event_store
from taskloom.store import tasks as task_store
from taskloom.store import turns as turn_store
from taskloom.store.database import Database
from taskloom.store.records import (
    EventRecord,
    TaskRecord,
    TaskStatus,
    TurnRecord,
)

# In-process changes wake waiters at once, and on PostgreSQL so do other processes' (NOTIFY);
# these re-reads only cover what a hint may miss: another process on SQLite, a lost NOTIFY.
# Each costs a store read per open stream or waiting request.
_RECHECK_SQLITE_S = 0.25
_RECHECK_PG_S = 1.0


class TaskService:
    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        config: WorkerConfig,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._db = db
        self._notifier = notifier
        self._config = config
        self._recheck_s = _RECHECK_SQLITE_S if db.is_sqlite else _RECHECK_PG_S

    def announce(self, task_id: str) -> None:
        """Wake whoever waits on this task (streams, long polls) after a change made outside
        this service, here or, on PostgreSQL, in another process."""
        self._notifier.task_changed(task_id)

    # -- reading -----------------------------------------------------------------------------

    async def get(self, *, organization_id: str, task_id: str) -> TaskRecord:
        async with self._db.read() as conn:
            return await task_store.get_task(conn, organization_id=organization_id, task_id=task_id)

    async def turns(self, *, organization_id: str, task_id: str) -> list[TurnRecord]:
        async with self._db.read() as conn:
            await task_store.get_task(conn, organization_id=organization_id, task_id=task_id)
            return await turn_store.list_turns(conn, task_id=task_id)

    async def wait_settled(
        self,
        *,
        organization_id: str,
        task_id: str,
        timeout_s: float,
        turn: int | None = None,
        through_pause: bool = False,
    ) -> TaskRecord:
        """The task once it is terminal or paused (at `turn` or later, when given), or as it
        stands when `timeout_s` runs out. With `through_pause`, a pause does not end the wait
        (a parent waiting on its sub-task's outcome)."""
        recheck_s = self._recheck_s
        deadline = self._clock.monotonic() + timeout_s
        while True:
            with self._notifier.watch(task_id) as watch:
                task = await self.get(organization_id=organization_id, task_id=task_id)
                remaining = deadline - self._clock.monotonic()
                if turn is not None and task.turn > turn:
                    # a queued turn started in the very transaction that ended ours
                    return await self._as_of_turn(task, turn)
                settled = task.status.is_terminal or (
                    task.status == TaskStatus.PAUSED and not through_pause
                )
                if turn is not None and task.turn < turn:
                    settled = False  # still an earlier turn
                if settled or remaining <= 0:
                    return task
                await watch.wait(min(remaining, recheck_s))

    async def _as_of_turn(self, task: TaskRecord, turn: int) -> TaskRecord:
        """The task as it stood when `turn` ended, from that turn's record."""
        async with self._db.read() as conn:
            found = await turn_store.get_turn(conn, task_id=task.id, turn=turn)
        return dataclasses.replace(
            task,
            turn=found.turn,
            status=TaskStatus(found.status),
            input=found.input,
            request=found.request,
            result=found.result,
            status_reason=found.status_reason,
            status_message=None,
            started_at=found.started_at,
            finished_at=found.finished_at,
        )

    async def follow(
        self,
        *,
        organization_id: str,
        task_id: str,
        after_seq: int,
        turn: int | None = None,
        from_turn: int | None = None,
    ) -> AsyncIterator[EventRecord]:
        """Events after `after_seq`, as they are written, until the task's turn is over.

        It ends once the task is terminal and every event up to its `task_finished` is out
        (written in one transaction with the terminal status); a queued turn that started
        meanwhile keeps it going. The stream of one invoke passes its `turn`: it ends with that
        turn's `task_finished`. With `from_turn`, events before that turn's `task_created` are
        skipped (the stream of a queued turn).
        """
        last = after_seq
        while True:
            with self._notifier.watch(task_id) as watch:
                async with self._db.read() as conn:
                    batch = await event_store.events_after(conn, task_id=task_id, after_seq=last)
                    task = await task_store.get_task(
                        conn, organization_id=organization_id, task_id=task_id
                    )
                for event in batch:
                    last = event.seq
                    if from_turn is not None:
                        if event.type != lifecycle.TASK_CREATED or event.data["turn"] != from_turn:
                            continue
                        from_turn = None
                    yield event
                    if (
                        turn is not None
                        and event.type == lifecycle.TASK_FINISHED
                        and event.data["turn"] == turn
                    ):
                        return
                if len(batch) == event_store.PAGE:
                    continue  # more is waiting: no need to sleep
                if task.status.is_terminal and task.event_seq <= last:
                    return  # its task_finished is out, and no newer turn has begun
                if not batch:
                    await watch.wait(self._recheck_s)

    # -- control -----------------------------------------------------------------------------

    async def stop(self, *, organization_id: str, task_id: str) -> TaskRecord:
        """Stop the task, then every sub-task of it still running (in this order: a parent
        must not see its child stop and end in `error` before its own stop lands)."""
        now = self._clock.now()
        async with self._db.write() as conn:
            task, stopped = await task_store.stop_task(
                conn, organization_id=organization_id, task_id=task_id, now=now
            )
            if stopped:
                # a queued turn does not start after a stop: the user asked for silence
                await turn_store.drop_queued(conn, task_id=task_id)
                await lifecycle.finished(conn, task, now=now)
        if stopped:
            self._notifier.task_stopped(task_id)
        else:
            self._notifier.task_changed(task_id)
        async with self._db.read() as conn:
            children = await task_store.children_of(conn, task_id=task_id)
        for child, status in children:
            if not status.is_terminal:
                await self.stop(organization_id=organization_id, task_id=child)
        return task

    async def delete(self, *, organization_id: str, task_id: str) -> None:
        await self.stop(organization_id=organization_id, task_id=task_id)
        async with self._db.write() as conn:
            await task_store.delete_task(conn, organization_id=organization_id, task_id=task_id)
        self._notifier.task_changed(task_id)
