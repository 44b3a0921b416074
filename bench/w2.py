"""W2 (bench/README.md): I/O-bound concurrency against a model that answers after 200 ms.

`fake_model.py` runs as its own process pinned to core 1 (beside the driver, never on the
server's core 0). Per worker-concurrency setting (`--w2-concurrency`, default 64 and 512) a
fresh database and server are started, allowed to call the fake (TASKLOOM_LLM_ALLOWED_API_BASES)
and with no provider keys in their environment; an agent whose `llm_api_base` is the fake and
a workflow of one `agent` node pointing at it are deployed and warmed up. Then:

- `w2_floor`: 500 concurrent `POST /v1/chat/completions` from the driver straight to the fake
  (after one untimed round that opens the connections): what the floor looks like;
- `w2`: 500 async invokes of the workflow at once, then all polled to completion by 32
  clients (5 ms sleep after a non-terminal answer, like w1b); wall = first invoke sent →
  last terminal seen, effective concurrency = 500 x 0.2 s / wall;
- `w2_direct`: the same, invoking the agent itself (`POST /v1/agents/{id}/invoke/async`).

Besides the wall time, each records where the time went: the invoke phase, the server's own
clock (first created_at → last finished_at), tasks executing at once (from started_at and
finished_at), the claim batches (tasks claimed together share their started_at), the model
calls in flight at once and their arrival spread (the fake counts them), and on PostgreSQL the
database's committed transactions per task (pg_stat_database).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

import graphs
from api import Api, Tally, Task
from fake_model import DEFAULT_DELAY_S
from stats import percentile, rate, ratio
from workloads import Outcome, Target, sample, text_of

FAKE_SCRIPT = Path(__file__).resolve().parent / "fake_model.py"
FAKE_CORE = 1  # the driver's core: never the server's
W2_TASKS = 500
W2_CLIENTS = 32  # httpx clients for the invokes (and the floor), 16 connections each
W2_CONNECTIONS_PER_CLIENT = math.ceil(W2_TASKS / W2_CLIENTS)
KEEPALIVE_EXPIRY_S = 2.0  # as run.py's lanes: below the server's keep-alive timeout
POLLERS = 32  # as w1b
WARM_UP = 3  # sync invokes of the agent and of the workflow before anything is timed
PG_STATS_FLUSH_S = 1.2  # PostgreSQL 15 backends flush their counters at most once a second
START_TIMEOUT_S = 20.0
DEFAULT_CONCURRENCY = (64, 512)


# -- the fake model process ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FakeModel:
    process: subprocess.Popen[bytes]
    url: str  # http://127.0.0.1:PORT

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    async def stats(self, client: httpx.AsyncClient) -> dict[str, Any]:
        response = await client.get(f"{self.url}/stats")
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    async def reset(self, client: httpx.AsyncClient) -> None:
        (await client.post(f"{self.url}/stats/reset")).raise_for_status()


@contextlib.asynccontextmanager
async def fake_model(delay_s: float = DEFAULT_DELAY_S) -> AsyncIterator[FakeModel]:
    """`taskset -c 1 python fake_model.py` in its own session; stopped (group) on exit."""
    process = _spawn_fake(delay_s)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(_first_line, process), START_TIMEOUT_S)
        if not line.startswith("PORT "):
            raise RuntimeError(f"fake model server did not start: {line!r}")
        yield FakeModel(process, f"http://127.0.0.1:{int(line.split()[1])}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(process.wait, 5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _spawn_fake(delay_s: float) -> subprocess.Popen[bytes]:
    command = ["taskset", "-c", str(FAKE_CORE), sys.executable, str(FAKE_SCRIPT)]
    return subprocess.Popen(
        [*command, "--delay", str(delay_s)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as one
    )


def _first_line(process: subprocess.Popen[bytes]) -> str:
    assert process.stdout is not None
    return process.stdout.readline().decode(errors="replace").strip()


def server_env(fake: FakeModel, concurrency: int) -> dict[str, str]:
    return {
        "TASKLOOM_WORKER_CONCURRENCY": str(concurrency),
        "TASKLOOM_LLM_ALLOWED_API_BASES": json.dumps([fake.api_base]),
    }


# -- wide lanes: enough connections for 500 requests at once ---------------------------------


@contextlib.asynccontextmanager
async def wide_clients(
    base_url: str, headers: dict[str, str]
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """32 httpx clients of 16 connections each: 500 requests can be in flight at once."""
    limits = httpx.Limits(
        max_connections=W2_CONNECTIONS_PER_CLIENT,
        max_keepalive_connections=W2_CONNECTIONS_PER_CLIENT,
        # below uvicorn's 5 s keep-alive timeout: w2_direct's invokes come ~5 s after w2's
        # left these connections idle, and met the server closing them (ReadError, with no
        # request seen by the server) once w2 at concurrency 512 got down to ~4-5 s
        keepalive_expiry=KEEPALIVE_EXPIRY_S,
    )
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=base_url,
                    headers=headers,
                    limits=limits,
                    timeout=httpx.Timeout(60.0, connect=10.0),
                    trust_env=False,
                )
            )
            for _ in range(W2_CLIENTS)
        ]
        yield clients


# -- deployment and warm-up ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deployed:
    agent_id: str
    workflow_id: str


async def deploy(client: httpx.AsyncClient, fake: FakeModel) -> Deployed:
    agent_id = await graphs.deploy_agent(client, graphs.w2_agent_definition(fake.api_base))
    workflow_id = await graphs.deploy(client, graphs.w2_definition(agent_id))
    return Deployed(agent_id, workflow_id)


async def warm_up(client: httpx.AsyncClient, deployed: Deployed) -> dict[str, Any]:
    """Sync invokes of both (untimed): the first model call imports the provider libraries."""
    api = Api(client)
    for kind, target_id in (("agents", deployed.agent_id), ("workflows", deployed.workflow_id)):
        for i in range(WARM_UP):
            text = text_of(i)
            task = await api.invoke_sync(target_id, text, kind=kind)
            api.tally.checked += 1
            if task is not None and api.record_terminal(task) and not graphs.w2_ok(text, task):
                api.tally.bad_results += 1
    return api.tally.as_dict()


# -- the floor: straight to the fake ---------------------------------------------------------


async def floor(fake: FakeModel, stats_client: httpx.AsyncClient) -> Outcome:
    """500 concurrent chat completions from the driver to the fake (after an untimed round)."""
    tally = Tally()
    body = {"model": "bench", "messages": [{"role": "user", "content": "hello"}]}
    async with wide_clients(fake.url, {}) as clients:

        async def one(i: int) -> None:
            tally.requests += 1
            try:
                response = await clients[i % W2_CLIENTS].post("/v1/chat/completions", json=body)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                tally.http_errors[f"fake: {type(exc).__name__}"] += 1

        async def burst() -> float:
            started = time.perf_counter()
            async with asyncio.TaskGroup() as group:
                for i in range(W2_TASKS):
                    group.create_task(one(i))
            return time.perf_counter() - started

        await burst()  # opens the connections
        await fake.reset(stats_client)
        wall = await burst()
    seen = await fake.stats(stats_client)
    metrics = {"wall_s": wall, "eff_concurrency": W2_TASKS * DEFAULT_DELAY_S / wall}
    metrics |= _model_figures(seen)
    return Outcome(metrics, tally)


# -- w2 and w2_direct ------------------------------------------------------------------------


async def w2(
    target: Target,
    clients: Sequence[httpx.AsyncClient],
    fake: FakeModel,
    *,
    kind: str,
    target_id: str,
    pg_url: str | None,
) -> Outcome:
    """500 async invokes at once, then all polled to completion by 32 pollers."""
    tally = Tally()
    deadline = target.deadline()
    await fake.reset(target.client)
    commits_before = await _pg_commits(pg_url)
    accepted: list[tuple[str, str]] = []

    async def invoke(i: int) -> None:
        task = await Api(clients[i % len(clients)], tally).invoke_async(
            target_id, text_of(i), kind=kind
        )
        if task is not None:
            accepted.append((task["id"], text_of(i)))

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for i in range(W2_TASKS):
            group.create_task(invoke(i))
    invoked = time.perf_counter()
    finished, last_seen = await _poll_all(target, tally, [i for i, _ in accepted], deadline)
    wall = last_seen - started
    seen = await fake.stats(target.client)
    commits_after = await _pg_commits(pg_url)
    completed = {task["id"] for task in finished if Api.record(tally, task)}
    done = [(i, text) for i, text in accepted if i in completed]
    metrics = {
        "wall_s": wall,
        "eff_concurrency": W2_TASKS * DEFAULT_DELAY_S / wall,
        "invoke_phase_s": invoked - started,
        "tasks_done": float(len(done)),
    }
    metrics |= _server_figures(finished)
    metrics |= _model_figures(seen)
    if commits_before is not None and commits_after is not None:
        metrics["db_commits_per_task"] = ratio(commits_after - commits_before, float(len(done)))
    return Outcome(metrics, tally, sample(done, "w2"), [i for i, _ in done])


async def _poll_all(
    target: Target, tally: Tally, task_ids: list[str], deadline: float
) -> tuple[list[Task], float]:
    """Poll every task to terminal with 32 pollers (first invoked, first polled), as w1b."""
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

    async with asyncio.TaskGroup() as group:
        for index in range(POLLERS):
            group.create_task(poller(Api(target.lane(index), tally)))
    return finished, last_seen


def _stamp(task: Task, key: str) -> datetime | None:
    value = task.get(key)
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _server_figures(tasks: list[Task]) -> dict[str, float]:
    """By the server's clock: its wall time, tasks executing at once, claim batches."""
    nan = math.nan
    spans = []
    for task in tasks:
        created, started, ended = (
            _stamp(task, k) for k in ("created_at", "started_at", "finished_at")
        )
        if created and started and ended:
            spans.append((created, started, ended))
    if not spans:
        return {"server_wall_s": nan}
    first = min(c for c, _, _ in spans)
    last = max(e for _, _, e in spans)
    edges = sorted([(s, 1) for _, s, _ in spans] + [(e, -1) for _, _, e in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    batches = Counter(s for _, s, _ in spans)  # one claim stamps its tasks with one `now`
    sizes = sorted(batches.values())
    run_ms = [(e - s).total_seconds() * 1000.0 for _, s, e in spans]
    queued_ms = [(s - c).total_seconds() * 1000.0 for c, s, _ in spans]
    return {
        "server_wall_s": (last - first).total_seconds(),
        "server_peak_executing": float(peak),
        "claim_batches": float(len(sizes)),
        "claim_batch_max": float(sizes[-1]),
        "claim_batch_p50": percentile(sizes, 50),
        "queued_p50_ms": percentile(queued_ms, 50),
        "queued_max_ms": max(queued_ms),
        "run_p50_ms": percentile(run_ms, 50),
        "run_max_ms": max(run_ms),
        "server_tasks_per_s": rate(len(spans), (last - first).total_seconds()),
    }


def _model_figures(stats: dict[str, Any]) -> dict[str, float]:
    arrivals = [float(t) for t in stats.get("arrivals", [])]
    return {
        "model_calls": float(stats.get("requests", 0)),
        "model_calls_streamed": float(stats.get("streamed", 0)),
        "model_peak_in_flight": float(stats.get("peak_in_flight", 0)),
        "model_arrival_spread_s": arrivals[-1] if arrivals else math.nan,
        "model_arrival_p50_s": percentile(arrivals, 50),
    }


async def _pg_commits(url: str | None) -> int | None:
    """Committed transactions of the database so far (PostgreSQL only)."""
    if url is None:
        return None
    await asyncio.sleep(PG_STATS_FLUSH_S)
    conn = await asyncpg.connect(url, timeout=10)
    try:
        value = await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await conn.close(timeout=10)
    return int(value)
