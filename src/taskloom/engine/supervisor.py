"""Long-lived side tasks (claim loop, heartbeat, sweeper, notifier relay), named and watched.

A side task that raises is never silently gone: it is logged with its traceback, marked
`down` (which `/health` reports) and started again after a back-off that doubles up to
`max_backoff_s`; one that stays up for `healthy_after_s` has its back-off reset. One that
returns on its own, while not asked to stop, counts as a failure too: these loops are meant
to run until stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from taskloom.clock import Clock

logger = logging.getLogger(__name__)


class SideTaskState(StrEnum):
    RUNNING = "running"
    DOWN = "down"  # died; waiting out its back-off before the next start
    STOPPED = "stopped"


@dataclass(slots=True)
class _Watched:
    name: str
    loop: Callable[[], Awaitable[None]]
    state: SideTaskState = SideTaskState.RUNNING
    failures: int = 0  # in a row: sets the back-off
    restarts: int = 0
    last_error: str | None = None
    task: asyncio.Task[None] | None = None


async def every(clock: Clock, interval_s: float, step: Callable[[], Awaitable[object]]) -> None:
    """A sweep for the supervisor: run `step`, then wait `interval_s`, for ever."""
    while True:
        await step()
        await clock.sleep(interval_s)


class SideTaskEnded(RuntimeError):
    """A side task returned although nobody asked it to stop."""


class Supervisor:
    def __init__(
        self,
        clock: Clock,
        *,
        owner: str,
        first_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        healthy_after_s: float = 60.0,
    ) -> None:
        self._clock = clock
        self._owner = owner
        self._first_backoff_s = first_backoff_s
        self._max_backoff_s = max_backoff_s
        self._healthy_after_s = healthy_after_s
        self._watched: dict[str, _Watched] = {}
        self._changed = asyncio.Condition()

    def start(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        watched = self._watched[name] = _Watched(name=name, loop=loop)
        watched.task = asyncio.create_task(self._keep(watched), name=f"{self._owner}:{name}")

    async def stop(self, *names: str) -> None:
        """Cancel the named side tasks (all when none are named) and wait until they end."""
        chosen = [self._watched[n] for n in names] if names else list(self._watched.values())
        tasks = [w.task for w in chosen if w.task is not None]
        for watched in chosen:
            watched.state = SideTaskState.STOPPED
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def states(self) -> dict[str, SideTaskState]:
        return {name: w.state for name, w in self._watched.items()}

    def report(self) -> dict[str, dict[str, object]]:
        """What `/health` shows of each side task."""
        return {
            name: {"state": w.state.value, "restarts": w.restarts, "last_error": w.last_error}
            for name, w in self._watched.items()
        }

    async def wait_for(self, name: str, state: SideTaskState) -> None:
        """Return once the named side task is in `state`."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: (w := self._watched.get(name)) is not None and w.state is state
            )

    async def _set(self, watched: _Watched, state: SideTaskState) -> None:
        watched.state = state
        async with self._changed:
            self._changed.notify_all()

    @property
    def healthy(self) -> bool:
        return all(w.state is SideTaskState.RUNNING for w in self._watched.values())

    async def _keep(self, watched: _Watched) -> None:
        await self._set(watched, SideTaskState.RUNNING)
        while True:
            started = self._clock.monotonic()
            try:
                await watched.loop()
                raise SideTaskEnded(f"{watched.name} returned")
            except Exception as exc:
                if watched.state is SideTaskState.STOPPED:
                    return
                # the only boundary where a side task's failure is caught: logged in full,
                # reported by /health, and the loop started again
                logger.exception(
                    "side task died",
                    extra={"event": "side_task_died", "owner": self._owner, "task": watched.name},
                )
                watched.last_error = f"{type(exc).__name__}: {exc}"
            if self._clock.monotonic() - started >= self._healthy_after_s:
                watched.failures = 0
            backoff = min(self._max_backoff_s, self._first_backoff_s * 2**watched.failures)
            watched.failures += 1
            await self._set(watched, SideTaskState.DOWN)
            await self._clock.sleep(backoff)
            await self._set(watched, SideTaskState.RUNNING)
            watched.restarts += 1
            logger.warning(
                "side task restarted",
                extra={"event": "side_task_restarted", "owner": self._owner, "task": watched.name},
            )
