"""The task workloads (bench/README.md): w1a, w1b, w1c and w3, and the result checks.

Each workload returns an `Outcome`: its figures, the tally of what went wrong, and a sample of
(task id, input text) pairs whose results are checked afterwards, outside the timed part.
Concurrent clients each get their own lane (an httpx client) from the `Target`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from api import TERMINAL, Api, Tally, Task
from graphs import w1_ok, w2_ok, w3_ok, wait_ok
from stats import latency_ms, rate

SAMPLE_SIZE = 20


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much work each workload does; `quick()` is the smoke-test size."""

    w1a: int = 200
    w1b: int = 2000
    w1c: int = 1000
    w3: int = 300
    poll_s: float = 10.0  # w1d duration
    health_s: float = 5.0  # /health baseline duration
    ceiling_s: float = 3.0  # each raw-client ceiling check
    loop_tasks: int = 3000  # bare store loop
    streams: int = 200  # concurrent stream clients (streams.py)
    stream_rounds: int = 3  # streams each of them opens, one after the other
    streams_idle: int = 30  # sequential streams of the lone-stream baseline
    waits: int = 10_000  # tasks paused at a wait node at once (waits.py)
    waits_w1a: int = 100  # w1a invokes, without and with them waiting
    waits_deadline_s: float = 900.0  # per waits step (pausing and approving 10,000 take long)
    store_fill: int = 100_000  # finished tasks copied into the store (filler.py)
    # per workload: work not started or not terminal by then is counted as "unfinished"
    deadline_s: float = 120.0

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            w1a=30,
            w1b=200,
            w1c=100,
            w3=30,
            poll_s=2.0,
            health_s=1.5,
            ceiling_s=1.0,
            loop_tasks=500,
            streams=50,
            stream_rounds=1,
            streams_idle=5,
            waits=300,
            waits_w1a=20,
            waits_deadline_s=60.0,
            store_fill=5_000,
            deadline_s=45.0,
        )


@dataclass(frozen=True, slots=True)
class Target:
    """The server under test as the workloads see it; lane i serves concurrent client i."""

    base_url: str
    key: str
    lanes: Sequence[httpx.AsyncClient]
    w1: str
    w3: str
    sizes: Sizes

    @property
    def client(self) -> httpx.AsyncClient:
        return self.lanes[0]

    def lane(self, index: int) -> httpx.AsyncClient:
        return self.lanes[index % len(self.lanes)]

    def deadline(self) -> float:
        return time.perf_counter() + self.sizes.deadline_s


@dataclass(frozen=True, slots=True)
class Sample:
    task_id: str
    text: str
    graph: str  # "w1", "w2", "w3" or "wait" (then `text` is who approved it)


@dataclass
class Outcome:
    metrics: dict[str, float]
    tally: Tally
    samples: list[Sample] = field(default_factory=list)
    finished_ids: list[str] = field(default_factory=list)


def text_of(i: int) -> str:
    return f"hello {i}"


def until(count: int, deadline: float, tally: Tally) -> Iterator[int]:
    """Indices 0..count-1, shared by concurrent clients; stops at the deadline and counts the
    invokes never sent as unfinished."""
    for i in range(count):
        if time.perf_counter() >= deadline:
            tally.unfinished += count - i
            return
        yield i


def sample(pairs: list[tuple[str, str]], graph: str) -> list[Sample]:
    """An evenly spread sample of (task id, text) pairs."""
    step = max(1, len(pairs) // SAMPLE_SIZE)
    return [Sample(task_id, text, graph) for task_id, text in pairs[::step][:SAMPLE_SIZE]]


async def run_clients(
    target: Target, count: int, tally: Tally, body: Callable[[Api], Coroutine[Any, Any, None]]
) -> None:
    """`count` concurrent clients, each on its own lane, all counting into one tally."""
    async with asyncio.TaskGroup() as group:
        for index in range(count):
            group.create_task(body(Api(target.lane(index), tally)))


# -- w1a: latency at low load ----------------------------------------------------------------


async def w1a(target: Target) -> Outcome:
    """Sequential async invokes, each polled to terminal before the next."""
    api = Api(target.client)
    deadline = target.deadline()
    totals: list[float] = []
    invokes: list[float] = []
    done: list[tuple[str, str]] = []
    for i in until(target.sizes.w1a, deadline, api.tally):
        text = text_of(i)
        sent = time.perf_counter()
        task = await api.invoke_async(target.w1, text)
        accepted = time.perf_counter()
        final = None if task is None else await api.wait_terminal(task, deadline)
        if final is None:
            continue
        totals.append(time.perf_counter() - sent)
        invokes.append(accepted - sent)
        if api.record_terminal(final):
            done.append((final["id"], text))
    p50, p95, p99 = latency_ms(totals, 50, 95, 99)
    (invoke_p50,) = latency_ms(invokes, 50)
    metrics = {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "invoke_p50_ms": invoke_p50}
    metrics["tasks_done"] = len(done)
    return Outcome(metrics, api.tally, sample(done, "w1"), [i for i, _ in done])


# -- w1b: throughput -------------------------------------------------------------------------

W1B_CLIENTS = 32


async def w1b(target: Target) -> Outcome:
    """Async invokes from 32 clients, then all polled to completion by 32 clients."""
    tally = Tally()
    deadline = target.deadline()
    accepted: list[tuple[str, str]] = []
    indices = until(target.sizes.w1b, deadline, tally)

    async def invoker(api: Api) -> None:
        for i in indices:
            task = await api.invoke_async(target.w1, text_of(i))
            if task is not None:
                accepted.append((task["id"], text_of(i)))

    started = time.perf_counter()
    await run_clients(target, W1B_CLIENTS, tally, invoker)
    invoked = time.perf_counter()
    finished, last_seen = await _poll_all(tally, target, [i for i, _ in accepted], deadline)
    completed = {task["id"] for task in finished if Api.record(tally, task)}
    done = [(i, text) for i, text in accepted if i in completed]
    metrics = {
        "invoke_rps": rate(len(accepted), invoked - started),
        "tasks_per_s": rate(len(completed), last_seen - started),
        "server_tasks_per_s": _server_rate(finished),
        "tasks_done": len(done),
    }
    return Outcome(metrics, tally, sample(done, "w1"), [i for i, _ in done])


async def _poll_all(
    tally: Tally, target: Target, task_ids: list[str], deadline: float
) -> tuple[list[Task], float]:
    """Poll every task to terminal with W1B_CLIENTS clients (first invoked, first polled)."""
    pending = iter(task_ids)
    finished: list[Task] = []
    last_seen = time.perf_counter()

    async def poller(api: Api) -> None:
        nonlocal last_seen
        for task_id in pending:
            final = await api.wait_terminal({"id": task_id, "status": "pending"}, deadline)
            if final is not None:
                finished.append(final)
                last_seen = time.perf_counter()

    await run_clients(target, W1B_CLIENTS, tally, poller)
    return finished, last_seen


def _server_rate(tasks: list[Task]) -> float:
    """Tasks/s by the server's own clock: first created_at to last finished_at."""
    try:
        created = min(datetime.fromisoformat(t["created_at"]) for t in tasks)
        ended = max(datetime.fromisoformat(t["finished_at"]) for t in tasks)
    except (KeyError, TypeError, ValueError):
        return float("nan")
    return rate(len(tasks), (ended - created).total_seconds())


# -- w1c: sync throughput --------------------------------------------------------------------

W1C_CLIENTS = 16


async def w1c(target: Target) -> Outcome:
    """Sync invokes from 16 concurrent clients."""
    tally = Tally()
    latencies: list[float] = []
    done: list[tuple[str, str]] = []
    indices = until(target.sizes.w1c, target.deadline(), tally)

    async def client(api: Api) -> None:
        for i in indices:
            sent = time.perf_counter()
            task = await api.invoke_sync(target.w1, text_of(i))
            if task is None:
                continue
            latencies.append(time.perf_counter() - sent)
            if task["status"] not in TERMINAL:
                tally.unfinished += 1  # the server's sync wait ran out (HTTP 202)
            elif api.record_terminal(task):
                done.append((task["id"], text_of(i)))

    started = time.perf_counter()
    await run_clients(target, W1C_CLIENTS, tally, client)
    wall = time.perf_counter() - started
    p50, p99 = latency_ms(latencies, 50, 99)
    metrics = {"rps": rate(len(latencies), wall), "p50_ms": p50, "p99_ms": p99}
    metrics["tasks_done"] = len(done)
    return Outcome(metrics, tally, sample(done, "w1"), [i for i, _ in done])


# -- w3: fan-out / join ----------------------------------------------------------------------

W3_CLIENTS = 32


async def w3(target: Target) -> Outcome:
    """Closed-loop clients: invoke W3 async, poll to terminal, repeat."""
    tally = Tally()
    deadline = target.deadline()
    latencies: list[float] = []
    done: list[tuple[str, str]] = []
    indices = until(target.sizes.w3, deadline, tally)

    async def client(api: Api) -> None:
        for i in indices:
            sent = time.perf_counter()
            task = await api.invoke_async(target.w3, text_of(i))
            final = None if task is None else await api.wait_terminal(task, deadline)
            if final is None:
                continue
            latencies.append(time.perf_counter() - sent)
            if api.record_terminal(final):
                done.append((final["id"], text_of(i)))

    started = time.perf_counter()
    await run_clients(target, W3_CLIENTS, tally, client)
    wall = time.perf_counter() - started
    p50, p99 = latency_ms(latencies, 50, 99)
    metrics = {"tasks_per_s": rate(len(done), wall), "p50_ms": p50, "p99_ms": p99}
    metrics["tasks_done"] = len(done)
    return Outcome(metrics, tally, sample(done, "w3"))


# -- between workloads ----------------------------------------------------------------------

SETTLE_S = 120.0


async def settle(target: Target) -> int:
    """Wait (bounded) until no task is pending or executing, so leftovers of a workload cut
    short by its deadline do not load the next one. Returns how many were still open."""
    api = Api(target.client)
    stop_at = time.perf_counter() + SETTLE_S
    open_tasks = -1
    while time.perf_counter() < stop_at:
        open_tasks = 0
        for status in ("pending", "executing"):
            page = await api.list_tasks(status)
            open_tasks += int(page["total"]) if page is not None else 1
        if open_tasks == 0:
            break
        await asyncio.sleep(0.5)
    return open_tasks


# -- result checks, outside the timed parts --------------------------------------------------

_CHECKS: dict[str, Callable[[str, Task], bool]] = {
    "w1": w1_ok,
    "w2": w2_ok,
    "w3": w3_ok,
    "wait": wait_ok,
}


async def verify(target: Target, outcome: Outcome) -> None:
    """Re-read the sampled tasks and check their results; failures land in the tally."""
    api = Api(target.client, outcome.tally)
    for item in outcome.samples:
        task = await api.get_task(item.task_id)
        outcome.tally.checked += 1
        if task is None or not _CHECKS[item.graph](item.text, task):
            outcome.tally.bad_results += 1
