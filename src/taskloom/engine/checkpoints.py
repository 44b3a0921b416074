"""What an attempt writes as it walks: node runs (the checkpoints a resumed attempt reuses),
their `node_started` notices, the events nodes emit, and the conversation a turn sees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from taskloom.clock import Clock
from taskloom.config import WorkerConfig
from taskloom.engine import lifecycle
from taskloom.engine.emitter import Emitter
from taskloom.engine.group_write import GroupWrite
from taskloom.engine.notify import Notifier
from taskloom.engine.progress import StartNotice
from taskloom.llm import Message
from taskloom.store import events as event_store
from taskloom.store import node_runs as node_run_store
from taskloom.store import turns as turn_store
from taskloom.store.database import Connection, Database
from taskloom.store.records import NodeRunRecord, TaskRecord

Reusable = dict[tuple[str, int], NodeRunRecord]  # (step, iteration) -> its completed run
# a node run to checkpoint, with its `node_started` when that is still to be written
Finished = tuple[NodeRunRecord, tuple[dict[str, Any], datetime] | None]


@dataclass(frozen=True, slots=True)
class FinalRun:
    """The last node run of a walk, held back to be written in the transaction that ends the
    attempt: nothing runs after it, so nothing can depend on it before that commit, and the
    task saves a commit (see `Checkpoints.hold`)."""

    run: NodeRunRecord
    started: tuple[dict[str, Any], datetime] | None
    events: list[tuple[str, Any, datetime]]

    async def write(self, conn: Connection, task: TaskRecord) -> None:
        await lifecycle.node_finished(
            conn, task, self.run, started=self.started, emitted=self.events
        )


class Checkpoints:
    def __init__(
        self, db: Database, notifier: Notifier, config: WorkerConfig, clock: Clock
    ) -> None:
        self._clock = clock
        self._db = db
        self._notifier = notifier
        self._config = config

    async def reusable(self, task: TaskRecord) -> Reusable:
        """The node runs an earlier attempt of this turn completed."""
        if task.attempt - task.attempt_base <= 1 and task.paused_at is None:
            # only an earlier attempt of this turn can have left checkpoints: every claim
            # counts an attempt, and a turn starts counting afresh (`attempt_base`), as does
            # a task resumed after a pause (which `paused_at` tells)
            return {}
        async with self._db.read() as conn:
            return await node_run_store.completed_outputs(conn, task_id=task.id, turn=task.turn)

    def start_notice(self, node: dict[str, Any], emitter: Emitter) -> StartNotice:
        """A node's deferred `node_started`. Written through the attempt's emitter, so that it
        takes its place in line with the events nodes emit (never after one of its own)."""

        async def publish(payload: dict[str, Any], at: datetime) -> None:
            await emitter.emit(lifecycle.NODE_STARTED, payload, at=at)

        return StartNotice(
            node, at=self._clock.now(), delay_s=self._config.progress_delay_s, publish=publish
        )

    def emitter(self, task: TaskRecord) -> Emitter:
        async def write(events: list[tuple[str, Any, datetime]]) -> None:
            async with self._db.write() as conn:
                await event_store.append_events(
                    conn, task_id=task.id, events=events, fence_attempt=task.attempt
                )
            self._notifier.task_changed(task.id)

        return Emitter(write, now=self._clock.now, delay_s=self._config.progress_delay_s)

    async def history(self, task: TaskRecord) -> list[Message]:
        """The conversation before this turn: each earlier turn's input, then its result."""
        if task.turn <= 1:
            return []  # the first turn has no conversation before it
        async with self._db.read() as conn:
            turns = await turn_store.list_turns(conn, task_id=task.id)
        messages: list[Message] = []
        for turn in turns:
            if turn.turn >= task.turn:
                break
            messages.append(Message("user", str(turn.input.get("text", ""))))
            if turn.result is not None:
                messages.append(Message("assistant", turn.result))
        return messages

    def recorder(self, task: TaskRecord, emitter: Emitter) -> GroupWrite[Finished]:
        """Where an attempt's node runs go (`record`): runs that finish together, a parallel
        node's branches, are checkpointed in one transaction, after the events nodes emitted
        that are not written yet."""

        async def write(runs: list[Finished]) -> None:
            async def in_one_transaction(events: list[tuple[str, Any, datetime]]) -> None:
                async with self._db.write() as conn:
                    await lifecycle.nodes_finished(conn, task, runs, emitted=events)
                if events:
                    self._notifier.task_changed(task.id)

            await emitter.flush(in_one_transaction)

        return GroupWrite(write)

    async def record(
        self, run: NodeRunRecord, notice: StartNotice, recorder: GroupWrite[Finished]
    ) -> None:
        """Checkpoint a node run, with its `node_started` if that is not out yet; returns once
        the transaction holding it committed."""
        await recorder.put((run, await notice.settle()))

    async def hold(
        self, task: TaskRecord, run: NodeRunRecord, notice: StartNotice, emitter: Emitter
    ) -> FinalRun:
        """Like `record`, for the walk's last node: what `record` would write, to be written
        by the caller with the attempt's end (its finish, or whatever ends it otherwise)."""
        started = await notice.settle()
        held: list[tuple[str, Any, datetime]] = []

        async def take(events: list[tuple[str, Any, datetime]]) -> None:
            held.extend(events)

        await emitter.flush(take)
        return FinalRun(run, started, held)

    async def write(self, task: TaskRecord, final: FinalRun) -> None:
        """A held last run, in a transaction of its own (the attempt ends other than by a
        finish: a pause)."""
        async with self._db.write() as conn:
            await final.write(conn, task)
        self._notifier.task_changed(task.id)
