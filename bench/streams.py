"""Stream delivery: how long after a task completes its `task_finished` reaches an SSE client.

`streams` runs 200 closed-loop clients (the issue: 200 concurrent streams). Each opens
`POST /v1/workflows/{id}/invoke/stream` on the stream graph (one code node that sleeps 0.2 s,
so the task always completes while its stream is open), reads the stream up to its
`task_finished`, closes it and opens the next, for `stream_rounds` rounds. `streams_1` is the
same with one client: the delay of a lone stream on an idle server, the baseline.

For every stream: delay = the driver's wall clock (`time.time()`) right after the bytes that
complete the `task_finished` event were read minus the task's `finished_at` in that event (the
server's `datetime.now(UTC)`). Server and driver read the same machine's CLOCK_REALTIME, so the
difference is meaningful; a step of the clock during a run (NTP) would fake it, and a negative
delay (reported as the minimum) would give that away.

invoke/stream rather than invoke/async then `GET /v1/tasks/{id}/events`: the stream is open
before the task exists, so every `task_finished` is a live delivery, never a replay of a task
that finished before its client attached, and the clients hold ~200 streams open all the way.

The streams are read through the raw client (`rawhttp.post_stream`): one connection per
stream, no httpx, so the driver stays cheap and its own lag small (it is measured anyway: a
5 ms ticker on the driver's event loop). Each delivery also records how many streams were open
at that moment, and the gap between the node's end (`finished_at` of its `node_finished`
event) and the task's `finished_at`: time the server spent before it stamped the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from api import Api, Tally
from graphs import stream_ok
from rawhttp import RawHttpError, RawStream, post_stream
from stats import latency_ms, percentile, rate
from workloads import Outcome, Target, text_of

LAG_TICK_S = 0.005  # the driver's event-loop lag probe


@dataclass
class _Shared:
    """What the streams of one workload share: where they go, the tally, the figures."""

    host: str
    port: int
    path: str
    headers: dict[str, str]
    deadline: float  # perf_counter
    tally: Tally = field(default_factory=Tally)
    delays: list[float] = field(default_factory=list)  # finished_at → task_finished read
    node_gaps: list[float] = field(default_factory=list)  # node finished_at → finished_at
    opens: list[float] = field(default_factory=list)  # POST sent → response head in
    open_at_delivery: list[float] = field(default_factory=list)
    open_now: int = 0
    peak_open: int = 0
    delivered: int = 0
    completed: int = 0


def _stamp(value: Any) -> float:
    """An ISO-8601 time of the server (`...Z`, µs) as a Unix timestamp."""
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    return datetime.fromisoformat(value).timestamp()


class _Events:
    """Server-sent events out of body pieces: the `data` of each complete event."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, piece: bytes) -> list[str]:
        self._buffer += piece.replace(b"\r\n", b"\n")
        *blocks, self._buffer = self._buffer.split(b"\n\n")
        found = []
        for block in blocks:
            data = [
                line[5:].removeprefix(b" ")
                for line in block.split(b"\n")
                if line.startswith(b"data:")
            ]
            if data:
                found.append(b"\n".join(data).decode())
        return found


async def streams(target: Target, workflow_id: str, clients: int, rounds: int) -> Outcome:
    """`clients` closed-loop clients, `rounds` invoke streams each, read to `task_finished`."""
    url = urlsplit(target.base_url)
    shared = _Shared(
        host=url.hostname or "127.0.0.1",
        port=url.port or 80,
        path=f"/v1/workflows/{workflow_id}/invoke/stream",
        headers={
            "x-api-key": target.key,
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        },
        deadline=target.deadline(),
    )

    async def client(slot: int) -> None:
        for round_ in range(rounds):
            if time.perf_counter() >= shared.deadline:
                shared.tally.unfinished += rounds - round_
                return
            await _one_stream(shared, text_of(round_ * clients + slot))

    lags: list[float] = []
    probe = asyncio.create_task(_lag_probe(lags))
    started = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            for slot in range(clients):
                group.create_task(client(slot))
    finally:
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe
    wall = time.perf_counter() - started
    return Outcome(_figures(shared, lags, clients * rounds, wall), shared.tally)


async def _one_stream(shared: _Shared, text: str) -> None:
    """One invoke stream, read up to its task_finished; every failure lands in the tally."""
    shared.tally.requests += 1
    body = json.dumps({"input": {"text": text}}).encode()
    sent = time.perf_counter()
    try:
        async with asyncio.timeout(max(0.0, shared.deadline - sent)):
            stream = await post_stream(shared.host, shared.port, shared.path, shared.headers, body)
            try:
                if stream.status != 200:
                    shared.tally.http_errors[f"invoke/stream: HTTP {stream.status}"] += 1
                    return
                shared.opens.append(time.perf_counter() - sent)
                shared.open_now += 1
                shared.peak_open = max(shared.peak_open, shared.open_now)
                try:
                    await _read_to_finish(shared, stream, text)
                finally:
                    shared.open_now -= 1
            finally:
                await stream.close()
    except TimeoutError:
        shared.tally.unfinished += 1  # the workload's deadline came first
    except RawHttpError as exc:
        shared.tally.http_errors[f"invoke/stream: {str(exc).split(':', 1)[0]}"] += 1
    except (ValueError, KeyError, TypeError) as exc:
        shared.tally.http_errors[f"invoke/stream: bad event ({type(exc).__name__})"] += 1


async def _read_to_finish(shared: _Shared, stream: RawStream, text: str) -> None:
    events = _Events()
    node_end: float | None = None
    async for piece, received in stream.pieces():
        for data in events.feed(piece):
            event = json.loads(data)
            kind = event["type"]
            if kind == "node_finished":
                node_end = _stamp(event["data"]["finished_at"])
            elif kind == "task_finished":
                task = event["data"]
                finished = _stamp(task["finished_at"])
                shared.delays.append(received - finished)
                shared.open_at_delivery.append(float(shared.open_now))
                if node_end is not None:
                    shared.node_gaps.append(finished - node_end)
                shared.delivered += 1
                shared.tally.checked += 1
                if Api.record(shared.tally, task):
                    if stream_ok(text, task):
                        shared.completed += 1
                    else:
                        shared.tally.bad_results += 1
                return
    raise RawHttpError("stream ended before task_finished")


async def _lag_probe(lags: list[float]) -> None:
    """How late the driver's event loop wakes a 5 ms sleeper: its own share of the delay."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(LAG_TICK_S)
        lags.append(time.perf_counter() - before - LAG_TICK_S)


def _figures(shared: _Shared, lags: list[float], wanted: int, wall: float) -> dict[str, float]:
    p50, p99 = latency_ms(shared.delays, 50, 99)
    extremes = (
        (min(shared.delays) * 1000.0, max(shared.delays) * 1000.0)
        if shared.delays
        else (math.nan, math.nan)
    )
    gap_p50, gap_p99 = latency_ms(shared.node_gaps, 50, 99)
    (open_p50,) = latency_ms(shared.opens, 50)
    lag_p50, lag_p99 = latency_ms(lags, 50, 99)
    return {
        "delay_p50_ms": p50,
        "delay_p99_ms": p99,
        "delay_max_ms": extremes[1],
        "delay_min_ms": extremes[0],
        "streams": float(wanted),
        "streams_done": float(shared.delivered),
        "tasks_done": float(shared.completed),
        "tasks_per_s": rate(shared.delivered, wall),
        "open_at_delivery_p50": percentile(shared.open_at_delivery, 50),
        "peak_open": float(shared.peak_open),
        "stream_open_p50_ms": open_p50,
        "node_gap_p50_ms": gap_p50,
        "node_gap_p99_ms": gap_p99,
        "driver_lag_p50_ms": lag_p50,
        "driver_lag_p99_ms": lag_p99,
    }
