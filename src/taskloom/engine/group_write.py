"""Group writes: what several coroutines hand in at about the same moment goes to the store in
one transaction, and each of them resumes only once that transaction has committed.

A parallel node's branches finish together (their code runs as one sandbox batch); written
one by one, twenty branches cost twenty transactions, each waiting for the one before it.
Here the first item starts a write on the next turn of the loop, so the branches that finish
in the same turn join it; items that arrive while a write is under way go in the next one.
Nobody is told "done" before the transaction holding their item committed, so a checkpoint is
still durable before anything that depends on it starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupWrite(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write = write
        self._pending: list[T] = []
        self._done: asyncio.Future[None] | None = None  # the pending items' write
        self._writer: asyncio.Task[None] | None = None
        self.writes = 0  # transactions written so far (what tests count)

    async def put(self, item: T) -> None:
        """Hand in an item; returns once it is written, or raises what its write raised."""
        self._pending.append(item)
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
            self._done.add_done_callback(_retrieve)
        done = self._done
        if self._writer is None:
            # a task's first step runs after what is ready now: items handed in by the
            # coroutines woken in this same turn of the loop join this write
            self._writer = asyncio.create_task(self._drain(), name="group-write")
        # shielded: a caller cancelled while it waits leaves the write (and the others) be
        await asyncio.shield(done)

    async def _drain(self) -> None:
        try:
            while self._pending:
                items, self._pending = self._pending, []
                done, self._done = self._done, None
                assert done is not None
                self.writes += 1
                try:
                    await self._write(items)
                except Exception as exc:  # every caller of this write learns it
                    done.set_exception(exc)
                except BaseException:
                    done.cancel()
                    raise
                else:
                    done.set_result(None)
        finally:
            self._writer = None


def _retrieve(done: asyncio.Future[None]) -> None:
    # a caller cancelled while its write failed never looks at the failure: not a leak
    if not done.cancelled():
        done.exception()
