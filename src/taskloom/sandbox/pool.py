"""The warm pool of sandboxed interpreters: per-org slots, fair hand-offs, recycling, run().

The pool schedules; `interpreter.py` runs one interpreter process and `launcher.py` decides
how (bubblewrap, plain subprocess, or code nodes refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Final

from taskloom.clock import Clock, SystemClock
from taskloom.config import SandboxConfig
from taskloom.errors import CodeError, NodeTimeout, SandboxRefused, SandboxUnavailable
from taskloom.sandbox.interpreter import Interpreter
from taskloom.sandbox.launcher import Launch, Refusal, SandboxMode, choose_launch
from taskloom.sandbox.protocol import encode_frame

log = logging.getLogger(__name__)

# how many codes' last run times are kept (to tell which runs may share a round trip)
_RUN_TIMES_KEPT: Final = 1024
# a code is quick when the quickest of its last few runs was: one run slowed down by a busy
# machine (other processes on the core) does not send the next runs to interpreters of
# their own; code that turned slow for good is seen as such after this many runs
_RUNS_JUDGED: Final = 3


class _Start:
    """Marker: the caller holds a reserved slot and must start its own interpreter."""


_START: Final = _Start()
_Grant = Interpreter | _Start


class _Waiter:
    """A run queued for capacity; `bypassed` counts same-org hand-offs that went past it."""

    __slots__ = ("bypassed", "future", "org")

    def __init__(self, org: str, future: asyncio.Future[_Grant]) -> None:
        self.org = org
        self.future = future
        self.bypassed = 0


@dataclass(slots=True)
class _Queued:
    """A run gathered for a batch: what to send, and where its outcome goes."""

    code: str
    frame_part: bytes  # `"code":...,"input":...` of its request, JSON already
    timeout_s: float
    future: asyncio.Future[object]


def _settle(future: asyncio.Future[object], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class SandboxPool:
    """Runs `main(input)` of `code` nodes in warm, recycled, per-org sandboxed interpreters."""

    def __init__(self, config: SandboxConfig, clock: Clock | None = None) -> None:
        self._config = config
        self._clock = clock or SystemClock()
        self._launch: Launch | None = None
        self._refusal: Refusal | None = None
        self._closed = False
        self._max_total = max(1, config.pool_size * 4)
        # an org's interpreters stay warm while it is busy: killing all but a few after a
        # burst only meant starting them again for the next one (~20 ms of CPU each); at the
        # bound, other orgs' least recently used idle interpreters make room
        self._max_idle_per_org = self._max_total
        # Slots: every interpreter that is starting, idle or busy counts against _max_total.
        self._total = 0
        self._starting_spares = 0
        self._spares: list[Interpreter] = []
        self._idle: dict[str, list[Interpreter]] = {}
        # Insertion order = least recently used first, to pick which idle org to evict; the
        # value is when it went idle (monotonic), to retire it past `idle_s`.
        self._idle_lru: dict[Interpreter, float] = {}
        self._waiters: deque[_Waiter] = deque()
        # How often a queued run may be overtaken by hand-offs within another org before an
        # interpreter is retired to make room for it: bounds starvation by a busy org.
        self._max_bypass = self._max_total
        self._live: set[Interpreter] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # reapers
        self._starters: set[asyncio.Task[Interpreter]] = set()  # launches in flight
        self._next_id = 0
        self._scaler: asyncio.Task[None] | None = None  # retires idle interpreters
        # Batches: runs of code known to be quick that arrive in one turn of the loop for one
        # org (a parallel node's branches) share an interpreter and one round trip, rather
        # than taking one interpreter each. What each code's last runs took, in the
        # interpreter, says whether it is quick; a code never seen runs alone first.
        self._run_ms: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._gathering: dict[str, list[_Queued]] = {}
        # An org's quick batches in flight (each holds an interpreter), the answers they got
        # so far, and the pending send of what the org gathered meanwhile. Quick runs that
        # find `batch_lanes` batches in flight wait to go as the next batch rather than take
        # one more interpreter: on a server of one or two cores more interpreters of quick
        # code only cost memory (~15 MiB each) and starts.
        self._lanes: dict[str, int] = {}
        self._lane_answers: dict[str, int] = {}
        self._lanes_starting: dict[str, int] = {}  # lanes still getting their interpreter
        self._sends: dict[str, asyncio.Handle] = {}
        self._probes: dict[tuple[str, str], asyncio.Future[object]] = {}  # new code's first runs

    async def __aenter__(self) -> SandboxPool:
        chosen = await choose_launch(self._config)
        if isinstance(chosen, Refusal):
            self._refusal = chosen
            return self
        self._launch = chosen
        self._scaler = asyncio.get_running_loop().create_task(self._scale_down())
        self._replenish()
        starting = [*self._tasks, *self._starters]
        if starting:
            await asyncio.gather(*starting, return_exceptions=True)
        if not self._spares and self._config.pool_size > 0:
            await self._shutdown()
            raise SandboxUnavailable(f"no {self._launch.mode} interpreter could be started")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._shutdown()

    @property
    def mode(self) -> SandboxMode:
        """How this pool runs user code (for /health): bwrap, subprocess or refused."""
        if self._refusal is not None:
            return SandboxMode.REFUSED
        if self._launch is None:
            raise SandboxUnavailable("sandbox pool is not started")
        return self._launch.mode

    def usage(self) -> tuple[int, int]:
        """(running user code now, started in all) interpreters, for /metrics."""
        warm = len(self._spares) + len(self._idle_lru)
        return max(0, len(self._live) - warm), len(self._live)

    async def run(self, *, org_id: str, code: str, input: object, timeout_s: float) -> object:
        """Run main(input) and return its JSON-able result.

        Raises CodeError when the user code raises, has no main, has a syntax error, returns a
        non-JSON value, exceeds output/input/code size limits, or the interpreter dies.
        Raises NodeTimeout past timeout_s (the interpreter is killed and replaced), and
        SandboxRefused when this server runs no code nodes (no sandbox, not a local server).
        Cancellation kills the interpreter serving this run and propagates.
        """
        if self._refusal is not None:
            raise SandboxRefused(self._refusal.message)
        if self._launch is None or self._closed:
            raise SandboxUnavailable("sandbox pool is not running")
        code_size = len(code.encode())
        if code_size > self._config.code_limit_bytes:
            raise CodeError(
                f"code too large: {code_size} bytes > {self._config.code_limit_bytes} bytes"
            )
        try:
            input_json = json.dumps(input, allow_nan=False, ensure_ascii=False).encode()
        except (TypeError, ValueError) as exc:
            raise CodeError(f"input is not JSON: {exc}") from None
        if len(input_json) > self._config.input_limit_bytes:
            raise CodeError(
                f"input too large: {len(input_json)} bytes > {self._config.input_limit_bytes} bytes"
            )
        request = b'"code":%s,"input":%s' % (json.dumps(code).encode(), input_json)
        probe = self._probes.get((org_id, code))
        if probe is not None:
            # runs of a new code that arrived together (a fan-out's first run): the first
            # one's answer tells whether the others may share an interpreter, rather than
            # each starting one; a first run that takes long says enough by taking long
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._config.batch_wait_ms / 1000):
                    await asyncio.shield(probe)
        if self._quick(code):
            return await self._gather(org_id, _Queued(code, request, timeout_s, self._future()))
        if code in self._run_ms or probe is not None:
            return await self._run_alone(org_id, request, timeout_s, code)
        probe = self._probes[org_id, code] = self._future()
        try:
            return await self._run_alone(org_id, request, timeout_s, code)
        finally:
            del self._probes[org_id, code]
            probe.set_result(None)

    async def _run_alone(self, org_id: str, request: bytes, timeout_s: float, code: str) -> object:
        self._next_id += 1
        run_id = self._next_id
        frame = encode_frame(b'{"id":%d,%s}' % (run_id, request))
        interp = await self._acquire(org_id)
        return await self._execute(interp, run_id, frame, timeout_s, code)

    async def _execute(
        self, interp: Interpreter, run_id: int, frame: bytes, timeout_s: float, code: str
    ) -> object:
        healthy = False
        try:
            reply = await interp.exchange(
                frame, timeout_s=timeout_s, output_limit_bytes=self._config.output_limit_bytes
            )
            if not isinstance(reply, dict) or reply.get("id") != run_id:
                raise CodeError("sandbox protocol error: unexpected reply")
            interp.runs += 1
            self._learn(code, reply.get("ms"))
            healthy = not reply.get("recycle", False)
            if reply.get("ok") is True:
                return reply.get("result")
            raise CodeError(str(reply.get("error", "code failed")))
        finally:
            # Runs on cancellation too: an unhealthy interpreter is killed, never reused.
            self._release(interp, healthy=healthy)

    # -- batches ---------------------------------------------------------------------------

    def _quick(self, code: str) -> bool:
        took = self._run_ms.get(code)
        return (
            took is not None
            and min(took) <= self._config.batch_run_ms
            and self._config.batch_size > 1
        )

    def _learn(self, code: str, took: object) -> None:
        if not isinstance(took, int | float):
            return
        self._run_ms[code] = (*self._run_ms.get(code, ())[1 - _RUNS_JUDGED :], float(took))
        self._run_ms.move_to_end(code)
        if len(self._run_ms) > _RUN_TIMES_KEPT:
            self._run_ms.popitem(last=False)

    def _future(self) -> asyncio.Future[object]:
        return asyncio.get_running_loop().create_future()

    async def _gather(self, org: str, queued: _Queued) -> object:
        """Join the org's next batch: sent once this turn is over if one of its lanes is
        free, else when a lane comes back (see `_wait_for_lane`)."""
        self._gathering.setdefault(org, []).append(queued)
        if org not in self._sends:
            loop = asyncio.get_running_loop()
            if self._lanes.get(org, 0) < self._config.batch_lanes:
                self._sends[org] = loop.call_soon(self._send_gathered, org)
            else:
                self._wait_for_lane(org)
        # a cancelled caller cancels its future: the batch's server kills the interpreter
        return await queued.future

    def _wait_for_lane(self, org: str) -> None:
        """Send what the org gathered once a lane comes back, or on one more lane if its
        lanes answered nothing for `batch_wait_ms`: stuck on runs gone slow, they must not
        hold the others back. Lanes that answer keep the runs waiting, however slowly they
        come back (a busy server's loop is slow to read answers; more interpreters would
        not make it faster)."""
        answers = self._lane_answers.get(org, 0)

        def check() -> None:
            del self._sends[org]
            if self._lanes.get(org, 0) < self._config.batch_lanes:
                self._send_gathered(org)
            elif self._lane_answers.get(org, 0) != answers or self._lanes_starting.get(org):
                # answering, or waiting for an interpreter (one more lane would wait too)
                self._wait_for_lane(org)
            else:
                self._send_gathered(org)

        wait_s = self._config.batch_wait_ms / 1000
        self._sends[org] = asyncio.get_running_loop().call_later(wait_s, check)

    def _send_gathered(self, org: str) -> None:
        send = self._sends.pop(org, None)
        if send is not None:
            send.cancel()  # when a lane came back first
        runs = [q for q in self._gathering.pop(org, []) if not q.future.done()]
        if self._closed:
            for queued in runs:
                _settle(queued.future, SandboxUnavailable("sandbox pool is shutting down"))
            return
        # as many batches as there are free lanes (one when called as lanes came back or
        # stuck); what they leave waits for the next lane, as runs that arrive later do
        size = self._config.batch_size
        free = max(1, self._config.batch_lanes - self._lanes.get(org, 0))
        for start in range(0, min(len(runs), free * size), size):
            self._lanes[org] = self._lanes.get(org, 0) + 1
            self._spawn(self._lane(org, runs[start : start + size]))
        if len(runs) > free * size:
            self._gathering[org] = runs[free * size :]
            self._wait_for_lane(org)

    async def _lane(self, org: str, runs: list[_Queued]) -> None:
        """Serve a batch, then send what the org gathered meanwhile (and what the batch
        could not serve, first) on this lane."""
        try:
            rest = await self._serve(org, runs)
        finally:
            self._lanes[org] -= 1
            if not self._lanes[org]:
                del self._lanes[org]
                self._lane_answers.pop(org, None)
        if rest:
            self._gathering[org] = [*rest, *self._gathering.get(org, [])]
        if self._gathering.get(org):
            self._send_gathered(org)

    async def _serve(self, org: str, runs: list[_Queued]) -> list[_Queued]:
        """Run a batch in one interpreter, one round trip: the child answers run by run.

        A run that times out, kills its interpreter, asks for it to be retired or is
        cancelled costs the interpreter, as a lone run would; the runs after it had no part
        in that are returned, to be sent again, to another one.
        """
        self._lanes_starting[org] = self._lanes_starting.get(org, 0) + 1
        try:
            interp = await self._acquire(org)
        except Exception as exc:
            for queued in runs:
                _settle(queued.future, exc)
            return []
        finally:
            self._lanes_starting[org] -= 1
            if not self._lanes_starting[org]:
                del self._lanes_starting[org]
        runs = [q for q in runs if not q.future.done()]
        if not runs:
            self._release(interp, healthy=True)
            return []
        first = self._next_id + 1
        self._next_id += len(runs)
        frame = encode_frame(
            b'{"runs":[%s]}'
            % b",".join(b'{"id":%d,%s}' % (first + i, q.frame_part) for i, q in enumerate(runs))
        )
        server = asyncio.current_task()
        assert server is not None

        answered = 0
        index = {id(queued.future): i for i, queued in enumerate(runs)}

        def cancelled(future: asyncio.Future[object]) -> None:
            # a run cancelled before its answer came costs the interpreter, as a lone run's
            if future.cancelled() and index[id(future)] >= answered:
                server.cancel()

        for queued in runs:
            queued.future.add_done_callback(cancelled)
        healthy = False
        # answers are handed out together, so that the runs' callers go on together (a
        # fan-out's branches then share a checkpoint transaction); a next answer slower than
        # `batch_wait_ms` hands out those already in
        held: list[tuple[asyncio.Future[object], object, bool]] = []

        def hand_out() -> None:
            for future, outcome, ok in held:
                if future.done():
                    continue
                if ok:
                    future.set_result(outcome)
                else:
                    future.set_exception(CodeError(str(outcome)))
            held.clear()

        loop = asyncio.get_running_loop()
        wait_s = self._config.batch_wait_ms / 1000
        try:
            await interp.send(frame, timeout_s=runs[0].timeout_s)
            for queued in runs:
                timer = loop.call_later(wait_s, hand_out) if held else None
                try:
                    reply = await interp.receive(
                        timeout_s=queued.timeout_s,
                        output_limit_bytes=self._config.output_limit_bytes,
                    )
                finally:
                    if timer is not None:
                        timer.cancel()
                if not isinstance(reply, dict) or reply.get("id") != first + answered:
                    raise CodeError("sandbox protocol error: unexpected reply")
                answered += 1
                self._lane_answers[org] = self._lane_answers.get(org, 0) + 1
                interp.runs += 1
                self._learn(queued.code, reply.get("ms"))
                if reply.get("ok") is True:
                    held.append((queued.future, reply.get("result"), True))
                else:
                    held.append((queued.future, reply.get("error", "code failed"), False))
                if reply.get("recycle", False):
                    break
            else:
                healthy = True
        except (CodeError, NodeTimeout) as exc:
            _settle(runs[answered].future, exc)  # the run the interpreter was on
            answered += 1
        except asyncio.CancelledError:
            server.uncancel()  # a run of ours was cancelled (see `cancelled`): not this task
        finally:
            hand_out()
            for queued in runs:
                queued.future.remove_done_callback(cancelled)
            self._release(interp, healthy=healthy)
        return [q for q in runs[answered:] if not q.future.done()]

    # -- slots -----------------------------------------------------------------------------

    async def _acquire(self, org: str) -> Interpreter:
        # Behind existing waiters when there are any, so freed capacity stays first come first
        # served; _dispatch() may still grant this one at once.
        grant = None if self._waiters else self._try_grant(org)
        if grant is None:
            waiter = _Waiter(org, asyncio.get_running_loop().create_future())
            self._waiters.append(waiter)
            self._dispatch()
            try:
                grant = await waiter.future
            except BaseException:
                if waiter.future.done() and not waiter.future.cancelled():
                    self._give_back(waiter.future.result())
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                raise
        if isinstance(grant, Interpreter):
            return grant
        try:
            interp = await self._start()
        except BaseException:
            self._total -= 1
            self._dispatch()
            raise
        interp.org = org
        if self._closed:
            self._retire(interp)
            raise SandboxUnavailable("sandbox pool is shutting down")
        return interp

    def _give_back(self, grant: _Grant) -> None:
        if isinstance(grant, Interpreter):
            self._release(grant, healthy=True)
        else:
            self._total -= 1
            self._dispatch()

    def _try_grant(self, org: str) -> _Grant | None:
        idle = self._idle.get(org)
        while idle:
            interp = idle.pop()
            del self._idle_lru[interp]
            if not idle:
                del self._idle[org]
            if interp.alive:
                return interp
            self._retire(interp)
        while self._spares:
            interp = self._spares.pop()
            if not interp.alive:
                self._retire(interp)
                continue
            interp.org = org
            self._replenish()
            return interp
        if self._total < self._max_total:
            self._total += 1
            return _START
        victim = next((i for i in self._idle_lru if i.org != org), None)
        if victim is not None:
            self._retire(victim)
            self._total += 1
            return _START
        return None

    def retire_idle(self, *, now: float | None = None) -> int:
        """Retire the org interpreters idle for `idle_s` or longer at `now` (the clock's
        monotonic time), and those past the `idle_keep` most recently used idle for
        `idle_surplus_s`; how many."""
        now = self._clock.monotonic() if now is None else now
        surplus = len(self._idle_lru) - self._config.idle_keep
        stale: list[Interpreter] = []
        for interp, since in self._idle_lru.items():  # oldest first
            limit = self._config.idle_s
            if len(stale) < surplus:
                limit = min(limit, self._config.idle_surplus_s)
            if now - since < limit:
                break
            stale.append(interp)
        for interp in stale:
            self._retire(interp)
        return len(stale)

    async def _scale_down(self) -> None:
        while not self._closed:
            await self._clock.sleep(min(self._config.idle_s, self._config.idle_surplus_s) / 2)
            self.retire_idle()

    def _dispatch(self) -> None:
        """Hand freed capacity to waiters, oldest first."""
        while self._waiters:
            waiter = self._waiters[0]
            if waiter.future.done():
                self._waiters.popleft()
                continue
            grant = self._try_grant(waiter.org)
            if grant is None:
                return
            self._waiters.popleft()
            waiter.future.set_result(grant)
        self._replenish()

    def _release(self, interp: Interpreter, *, healthy: bool) -> None:
        if (
            self._closed
            or not healthy
            or not interp.alive
            or interp.runs >= self._config.max_runs_per_interpreter
        ):
            self._retire(interp)
            self._dispatch()
            return
        if self._hand_off(interp):
            return
        assert interp.org is not None
        idle = self._idle.setdefault(interp.org, [])
        if len(idle) >= self._max_idle_per_org:
            self._retire(interp)
        else:
            idle.append(interp)
            self._idle_lru[interp] = self._clock.monotonic()
        self._dispatch()

    def _hand_off(self, interp: Interpreter) -> bool:
        """Give a released interpreter straight to a queued run of its org, if fair."""
        head: _Waiter | None = None
        for index, waiter in enumerate(self._waiters):
            if waiter.future.done():
                continue
            if waiter.org == interp.org:
                if head is not None:
                    if head.bypassed >= self._max_bypass:
                        return False
                    head.bypassed += 1
                del self._waiters[index]
                waiter.future.set_result(interp)
                return True
            if head is None:
                head = waiter
        return False

    def _retire(self, interp: Interpreter) -> None:
        """Kill an interpreter and free its slot; it is reaped in the background."""
        if interp not in self._live:
            return
        self._live.discard(interp)
        self._total -= 1
        if interp.org is not None:
            idle = self._idle.get(interp.org)
            if idle and interp in idle:
                idle.remove(interp)
            if idle == []:
                del self._idle[interp.org]
        self._idle_lru.pop(interp, None)
        if interp in self._spares:
            self._spares.remove(interp)
        self._discard(interp)

    def _discard(self, interp: Interpreter) -> None:
        interp.kill()
        self._spawn(interp.reap())

    def _replenish(self) -> None:
        """Top warm unassigned spares back up to pool_size, in the background."""
        while (
            not self._closed
            and self._launch is not None
            and not self._waiters
            and len(self._spares) + self._starting_spares < self._config.pool_size
            and self._total < self._max_total
        ):
            self._total += 1
            self._starting_spares += 1
            self._spawn(self._start_spare())

    # -- starting and reaping -----------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start_spare(self) -> None:
        try:
            interp = await self._start()
        except (SandboxUnavailable, asyncio.CancelledError) as exc:
            self._starting_spares -= 1
            self._total -= 1
            if isinstance(exc, SandboxUnavailable) and not self._closed:
                # No immediate retry: a broken launcher would otherwise spin.
                log.error("sandbox spare failed to start: %s", exc)
            return
        self._starting_spares -= 1
        if self._closed:
            self._retire(interp)
            return
        self._spares.append(interp)
        self._dispatch()

    async def _start(self) -> Interpreter:
        """Start one interpreter; holds no slot bookkeeping.

        The launch runs to completion even if the caller is cancelled: a bwrap killed halfway
        through its setup can leave its namespace init behind, so a cancelled caller leaves the
        launch to finish and the new interpreter is then retired.
        """
        task = asyncio.get_running_loop().create_task(self._launch_one())
        self._starters.add(task)
        task.add_done_callback(self._starters.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._retire_launched)
            raise

    def _retire_launched(self, task: asyncio.Task[Interpreter]) -> None:
        # The cancelled caller already gave its slot back: no _retire() bookkeeping here.
        if not task.cancelled() and task.exception() is None:
            interp = task.result()
            self._live.discard(interp)
            self._discard(interp)

    async def _launch_one(self) -> Interpreter:
        launch = self._launch
        if launch is None or self._closed:
            raise SandboxUnavailable("sandbox pool is not running")
        interp = await Interpreter.spawn(launch)
        try:
            await interp.wait_ready()
        except BaseException:
            self._discard(interp)
            raise
        # Only now: shutdown kills what is live, and a launch must not be killed mid-setup.
        self._live.add(interp)
        return interp

    async def _shutdown(self) -> None:
        self._closed = True
        if self._scaler is not None:
            self._scaler.cancel()
            await asyncio.gather(self._scaler, return_exceptions=True)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.future.done():
                waiter.future.set_exception(SandboxUnavailable("sandbox pool is shutting down"))
        for org in list(self._gathering):
            self._send_gathered(org)  # closed: settles what waited for a lane
        for interp in list(self._live):
            self._retire(interp)
        self._spares.clear()
        self._idle.clear()
        self._idle_lru.clear()
        # Launches in flight finish first (see _start), then everything is killed and reaped.
        while self._starters or self._tasks:
            await asyncio.gather(*self._starters, *self._tasks, return_exceptions=True)
            for interp in list(self._live):
                self._retire(interp)
