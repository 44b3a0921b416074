"""Fixed-duration GET loops: w1d (finished tasks), the /health baseline, and their raw twins.

All use 32 concurrent clients. The `_raw` variants send the same GETs through `rawhttp`
instead of httpx, to show how much of a figure is the driver's own cost (see rawhttp.py).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any
from urllib.parse import urlsplit

from api import Api, Tally
from rawhttp import RawConnection, RawHttpError
from stats import latency_ms, rate
from workloads import Outcome, Target

GET_CLIENTS = 32

Call = Callable[[int], Coroutine[Any, Any, bool]]


async def _get_loop(seconds: float, calls: Sequence[Call]) -> dict[str, float]:
    """One client per call, each calling `call(n)` until time is up; rate and latencies."""
    latencies: list[float] = []
    counter = itertools.count()
    started = time.perf_counter()
    stop_at = started + seconds

    async def client(call: Call) -> None:
        while time.perf_counter() < stop_at:
            sent = time.perf_counter()
            if not await call(next(counter)):
                return  # a failed client stops; the failure is in the tally
            latencies.append(time.perf_counter() - sent)

    async with asyncio.TaskGroup() as group:
        for call in calls:
            group.create_task(client(call))
    wall = time.perf_counter() - started
    p50, p99 = latency_ms(latencies, 50, 99)
    return {"rps": rate(len(latencies), wall), "p50_ms": p50, "p99_ms": p99}


def _httpx_calls(target: Target, tally: Tally, make: Callable[[Api], Call]) -> list[Call]:
    return [make(Api(target.lane(i), tally)) for i in range(GET_CLIENTS)]


async def health(target: Target) -> Outcome:
    """Baseline: GET /health from 32 clients, the server's HTTP floor through httpx."""
    tally = Tally()

    def make(api: Api) -> Call:
        async def ping(_n: int) -> bool:
            return await api.health()

        return ping

    metrics = await _get_loop(target.sizes.health_s, _httpx_calls(target, tally, make))
    return Outcome(metrics, tally)


async def w1d(target: Target, finished_ids: list[str]) -> Outcome:
    """GETs of finished tasks from 32 clients for a fixed time."""
    tally = Tally()
    if not finished_ids:
        tally.http_errors["w1d: no finished tasks to read"] += 1
        return Outcome({}, tally)

    def make(api: Api) -> Call:
        async def read(n: int) -> bool:
            task = await api.get_task(finished_ids[n % len(finished_ids)])
            return task is not None and api.record_terminal(task)

        return read

    metrics = await _get_loop(target.sizes.poll_s, _httpx_calls(target, tally, make))
    return Outcome(metrics, tally)


async def health_raw(target: Target) -> Outcome:
    """GET /health as above, through the raw client: the driver-ceiling check."""
    return await _raw_loop(target, target.sizes.ceiling_s, lambda _n: "/health", b'"ok"')


async def w1d_raw(target: Target, finished_ids: list[str]) -> Outcome:
    """w1d through the raw client: what the server gives when the driver costs little."""
    if not finished_ids:
        tally = Tally()
        tally.http_errors["w1d_raw: no finished tasks to read"] += 1
        return Outcome({}, tally)
    return await _raw_loop(
        target,
        target.sizes.ceiling_s,
        lambda n: f"/v1/tasks/{finished_ids[n % len(finished_ids)]}",
        b'"status":"completed"',
    )


async def _raw_loop(
    target: Target, seconds: float, path_of: Callable[[int], str], expect: bytes
) -> Outcome:
    tally = Tally()
    url = urlsplit(target.base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    connections = [
        await RawConnection.open(host, port, {"x-api-key": target.key}) for _ in range(GET_CLIENTS)
    ]

    def make(connection: RawConnection) -> Call:
        async def get(n: int) -> bool:
            tally.requests += 1
            try:
                status, body = await connection.get(path_of(n))
            except RawHttpError as exc:
                tally.http_errors[f"raw GET: {exc}"] += 1
                return False
            if status != 200 or expect not in body:
                tally.http_errors[f"raw GET: HTTP {status}"] += 1
                return False
            return True

        return get

    try:
        metrics = await _get_loop(seconds, [make(c) for c in connections])
    finally:
        for connection in connections:
            await connection.close()
    return Outcome(metrics, tally)
