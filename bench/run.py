"""Run the taskloom benchmark suite: `.venv/bin/python bench/run.py [--backend ...] [--quick]`.

For each backend and each run: a fresh database and a fresh `taskloom serve` pinned to core 0,
this driver pinned to core 1; then W1, W3 and the stream graph are deployed and warmed up, the
baselines are measured (GET /health through httpx and through a raw client, bare store loops),
and w1a, w1b, w1c, w1d (and its raw twin), w3, streams_1 and streams run in that order, with
memory read after w1b and at the end. Then W2 (w2.py): per worker-concurrency setting a fresh
database and server beside a fake model server, the floor, w2 and w2_direct. `--only` picks
some of these parts (baselines, w1, w3, streams, w2). Figures are medians over the runs with
their min-max spread; see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

import baseline
import filler
import graphs
import probes
import reads
import report
import server
import streams
import w2
import waits
import workloads
from api import Api, Task
from stats import Spread, ratio, spread
from workloads import Outcome, Sizes, Target

RESULTS = Path(__file__).resolve().parent / "results"
DRIVER_CORE = 1
WARM_UP = {"w1": 10, "w3": 3, "streams": 3}
# what --only can pick; all by default. store100k goes last: it leaves 100,000 tasks behind
PARTS = ("baselines", "w1", "w3", "streams", "waits", "store100k", "w2")
HARD_TIMEOUT_MARGIN_S = 60.0  # beyond a workload's own deadline, before it is cancelled
LANES = 32  # the most concurrent clients any workload uses
SHARED_CONNECTIONS = 64
CLIENT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# below the server's 5 s keep-alive timeout (uvicorn's default): with httpx's default, also
# 5 s, a request sent on a connection idle for ~5 s can meet the server closing it (a
# ReadError the server never saw a request for)
KEEPALIVE_EXPIRY_S = 2.0


@dataclass(frozen=True, slots=True)
class Options:
    backends: list[str]
    runs: int
    quick: bool
    sizes: Sizes
    shared_client: bool
    pg_admin_url: str
    server_env: dict[str, str]
    parts: tuple[str, ...] = PARTS
    w2_concurrency: tuple[int, ...] = w2.DEFAULT_CONCURRENCY


@dataclass
class RunRecord:
    """Everything one run measured or saw go wrong."""

    metrics: dict[str, float] = field(default_factory=dict)
    tallies: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    server_log_tail: str = ""

    def problems(self) -> int:
        return len(self.failures) + sum(int(t["problems"]) for t in self.tallies.values())


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- one run ---------------------------------------------------------------------------------


@asynccontextmanager
async def _lanes(base_url: str, key: str, shared: bool) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One httpx client per concurrent client (or one client shared by all with --shared-client).

    httpcore's pool walks every connection for every request, so one client with 32 requests
    in flight costs the driver ~4x more CPU per request than 32 clients with one each.
    """
    server.require_loopback(base_url)
    async with AsyncExitStack() as stack:

        async def make(connections: int) -> httpx.AsyncClient:
            client = httpx.AsyncClient(
                base_url=base_url,
                headers={"x-api-key": key},
                limits=httpx.Limits(
                    max_connections=connections,
                    max_keepalive_connections=connections,
                    keepalive_expiry=KEEPALIVE_EXPIRY_S,
                ),
                timeout=CLIENT_TIMEOUT,
                trust_env=False,  # never through a proxy: loopback only
            )
            return await stack.enter_async_context(client)

        if shared:
            yield [await make(SHARED_CONNECTIONS)]
        else:
            yield [await make(2) for _ in range(LANES)]


async def one_run(backend: str, options: Options) -> RunRecord:
    record = RunRecord()
    started = time.perf_counter()
    try:
        if set(options.parts) - {"w2"}:
            await _main_parts(record, backend, options)
        if "w2" in options.parts:
            await _w2_parts(record, backend, options)
    except Exception as exc:
        record.failures.append(f"run aborted: {type(exc).__name__}: {exc}")
    record.wall_s = time.perf_counter() - started
    return record


async def _main_parts(record: RunRecord, backend: str, options: Options) -> None:
    async with server.fresh_store(backend, options.pg_admin_url) as store:
        key = await asyncio.to_thread(server.create_key, store.url)
        async with server.running_server(store, options.server_env) as srv:
            try:
                async with _lanes(srv.base_url, key, options.shared_client) as lanes:
                    target, graphs_ = await _deploy(
                        srv.base_url, key, lanes, options.sizes, options.parts
                    )
                    await _measure_all(
                        record, backend, store, srv.pid, target, graphs_, options.parts
                    )
            finally:
                record.server_log_tail = srv.log_tail()


async def _w2_parts(record: RunRecord, backend: str, options: Options) -> None:
    """W2 against a fake model process, once per worker-concurrency setting, each on a fresh
    database and server (the setting is read at start-up)."""
    async with (
        w2.fake_model() as fake,
        httpx.AsyncClient(timeout=CLIENT_TIMEOUT, trust_env=False) as plain,
    ):
        for concurrency in options.w2_concurrency:
            async with server.fresh_store(backend, options.pg_admin_url) as store:
                key = await asyncio.to_thread(server.create_key, store.url)
                env = options.server_env | w2.server_env(fake, concurrency)
                async with server.running_server(store, env) as srv:
                    try:
                        session = _W2Session(backend, store, srv, key, fake, plain, concurrency)
                        await _w2_measure(record, options, session)
                    finally:
                        record.server_log_tail += (
                            f"\n--- w2 server, worker concurrency {concurrency} ---\n"
                            + srv.log_tail()
                        )


@dataclass(frozen=True, slots=True)
class _W2Session:
    """One W2 server (one worker-concurrency setting) and what measuring against it needs."""

    backend: str
    store: server.Store
    srv: server.Server
    key: str
    fake: w2.FakeModel
    plain: httpx.AsyncClient  # no base URL, no API key: for the fake
    concurrency: int


async def _w2_measure(record: RunRecord, options: Options, session: _W2Session) -> None:
    """Warm up, then the floor, w2 (the workflow) and w2_direct (the agent), named with the
    concurrency setting (e.g. w2_c64), and each wall time divided by the floor's."""
    srv, fake = session.srv, session.fake
    pg_url = session.store.url if session.backend == "postgres" else None
    suffix = f"_c{session.concurrency}"
    async with (
        _lanes(srv.base_url, session.key, options.shared_client) as lanes,
        w2.wide_clients(srv.base_url, {"x-api-key": session.key}) as wide,
    ):
        target = Target(srv.base_url, session.key, lanes, "", "", options.sizes)
        deployed = await w2.deploy(lanes[0], fake)
        record.tallies[f"w2 warm-up{suffix}"] = await w2.warm_up(lanes[0], deployed)
        measure = _Measurer(record, target, srv.pid)
        await measure(f"w2_floor{suffix}", lambda: w2.floor(fake, session.plain))

        def run_w2(kind: str, target_id: str) -> Callable[[], Awaitable[Outcome]]:
            return lambda: w2.w2(target, wide, fake, kind=kind, target_id=target_id, pg_url=pg_url)

        await measure(f"w2{suffix}", run_w2("workflows", deployed.workflow_id))
        await measure(f"w2_direct{suffix}", run_w2("agents", deployed.agent_id))
        record.metrics[f"mem.w2{suffix}_mib"] = probes.peak_rss_mib(srv.pid)
    metrics = record.metrics
    floor = metrics.get(f"w2_floor{suffix}.wall_s", math.nan)
    for name in ("w2", "w2_direct"):
        key_ = f"ratio.{name}{suffix}_vs_floor"
        metrics[key_] = ratio(metrics.get(f"{name}{suffix}.wall_s", math.nan), floor)


async def _deploy(
    base_url: str,
    key: str,
    lanes: list[httpx.AsyncClient],
    sizes: Sizes,
    parts: tuple[str, ...],
) -> tuple[Target, dict[str, str]]:
    """Deploy the graphs the selected parts use ("" for the others); W1 for w1, waits and
    store100k.
    Returns the target and the other graphs' ids by part ("streams", "waits")."""

    async def deploy(wanted_by: set[str], definition: dict[str, Any]) -> str:
        return await graphs.deploy(lanes[0], definition) if wanted_by & set(parts) else ""

    w1 = await deploy({"w1", "waits", "store100k"}, graphs.w1_definition())
    w3 = await deploy({"w3"}, graphs.w3_definition())
    others = {
        "streams": await deploy({"streams"}, graphs.stream_definition()),
        "waits": await deploy({"waits"}, graphs.wait_definition()),
    }
    return Target(base_url, key, lanes, w1, w3, sizes), others


async def _measure_all(
    record: RunRecord,
    backend: str,
    store: server.Store,
    pid: int,
    target: Target,
    deployed: dict[str, str],
    parts: tuple[str, ...],
) -> None:
    stream_graph = deployed["streams"]
    await _warm_up(record, target, {"w1": target.w1, "w3": target.w3, "streams": stream_graph})
    measure = _Measurer(record, target, pid)
    sizes = target.sizes
    if "baselines" in parts:
        await measure("health", lambda: reads.health(target))
        await measure("health_raw", lambda: reads.health_raw(target))
        await _store_loops(record, backend, store, sizes)
    finished: list[str] = []
    if "w1" in parts:
        first = await measure("w1a", lambda: workloads.w1a(target))
        bulk = await measure("w1b", lambda: workloads.w1b(target))
        record.metrics["mem.after_w1b_mib"] = probes.peak_rss_mib(pid)
        # the memory target includes the sandbox interpreters
        record.metrics["mem.after_w1b_tree_mib"] = probes.rss_mib(pid) + probes.sandbox_rss_mib(pid)
        record.metrics["mem.after_w1b_tree_pss_mib"] = probes.tree_pss_mib(pid)
        await measure("w1c", lambda: workloads.w1c(target))
        finished = [i for out in (first, bulk) if out is not None for i in out.finished_ids]
        await measure("w1d", lambda: reads.w1d(target, finished))
        await measure("w1d_raw", lambda: reads.w1d_raw(target, finished))
    if "w3" in parts:
        await measure("w3", lambda: workloads.w3(target))
    if "streams" in parts:
        await measure(
            "streams_1", lambda: streams.streams(target, stream_graph, 1, sizes.streams_idle)
        )
        await measure(
            "streams",
            lambda: streams.streams(target, stream_graph, sizes.streams, sizes.stream_rounds),
        )
    if "waits" in parts:
        await _waits(record, target, pid, deployed["waits"])
    if "store100k" in parts:
        await _store100k(record, store, target, pid, finished)
    record.metrics["mem.end_mib"] = probes.peak_rss_mib(pid)
    record.metrics["mem.sandbox_rss_end_mib"] = probes.sandbox_rss_mib(pid)
    _add_ratios(record.metrics, backend)


async def _waits(record: RunRecord, target: Target, pid: int, workflow_id: str) -> None:
    """The waits part (waits.py): w1a and memory with nothing waiting, then `waits` tasks
    paused, memory and w1a again while they wait, then a few approved one at a time and the
    rest by 32 clients."""
    sizes = target.sizes
    target = replace(
        target, sizes=replace(sizes, w1a=sizes.waits_w1a, deadline_s=sizes.waits_deadline_s)
    )
    metrics = record.metrics
    record.tallies["waits warm-up"] = (await waits.warm_up(target, workflow_id)).as_dict()
    measure = _Measurer(record, target, pid)
    await measure("waits_w1a_idle", lambda: workloads.w1a(target))
    metrics.update({f"mem.waits_idle_{k}": v for k, v in (await waits.memory(pid)).items()})
    paused = waits.Paused([])

    async def pause() -> Outcome:
        nonlocal paused
        outcome, paused = await waits.pause(target, workflow_id)
        return outcome

    await measure("waits_pause", pause)
    metrics.update({f"mem.waits_paused_{k}": v for k, v in (await waits.memory(pid)).items()})
    metrics["mem.waits_paused_peak_mib"] = probes.peak_rss_mib(pid)
    listed = await waits.paused_total(Api(target.client))
    metrics["waits_pause.listed_paused"] = listed
    if listed != len(paused.tasks):
        record.failures.append(
            f"waits: {len(paused.tasks)} tasks confirmed paused, but the task list says {listed}"
        )
    await measure("waits_w1a_paused", lambda: workloads.w1a(target))
    lone = paused.tasks[: sizes.waits_w1a]
    bulk = paused.tasks[len(lone) :]
    await measure("waits_approve_1", lambda: waits.approve(target, lone, 1))
    await measure("waits_approve", lambda: waits.approve(target, bulk, waits.CLIENTS))
    left = await waits.paused_total(Api(target.client))
    metrics["waits_approve.listed_paused_after"] = left
    if left != 0:
        record.failures.append(f"waits: {left} tasks still paused after all were approved")
    for kind in ("tree", "server"):
        metrics[f"ratio.waits_{kind}_rss_vs_idle"] = ratio(
            metrics.get(f"mem.waits_paused_{kind}_rss_mib", math.nan),
            metrics.get(f"mem.waits_idle_{kind}_rss_mib", math.nan),
        )
    for figure in ("p50_ms", "p99_ms"):
        metrics[f"ratio.waits_approve_{figure.removesuffix('_ms')}_vs_lone"] = ratio(
            metrics.get(f"waits_approve.{figure}", math.nan),
            metrics.get(f"waits_approve_1.{figure}", math.nan),
        )
        metrics[f"ratio.waits_w1a_{figure.removesuffix('_ms')}_vs_idle"] = ratio(
            metrics.get(f"waits_w1a_paused.{figure}", math.nan),
            metrics.get(f"waits_w1a_idle.{figure}", math.nan),
        )


async def _store100k(
    record: RunRecord, store: server.Store, target: Target, pid: int, finished: list[str]
) -> None:
    """w1a, w1d and w1d_raw beside `store_fill` finished tasks (filler.py), each divided by
    the same figure on the near-empty store: the w1 part's, or measured here when w1 did not
    run. w1d polls the same tasks both times."""
    measure = _Measurer(record, target, pid)
    if not finished:
        first = await measure("w1a", lambda: workloads.w1a(target))
        finished = first.finished_ids if first is not None else []
        await measure("w1d", lambda: reads.w1d(target, finished))
        await measure("w1d_raw", lambda: reads.w1d_raw(target, finished))
    if not finished:
        record.failures.append("store100k: no finished W1 task to copy")
        return
    count = target.sizes.store_fill
    filled = await filler.fill(store.url, finished[0], count)
    progress(f"    store100k: {count:,} tasks copied in {filled['seconds']:.1f} s")
    record.metrics.update({f"store100k.{k}": v for k, v in filled.items()})
    await measure("w1a_100k", lambda: workloads.w1a(target))
    await measure("w1d_100k", lambda: reads.w1d(target, finished))
    await measure("w1d_raw_100k", lambda: reads.w1d_raw(target, finished))
    metrics = record.metrics
    for name, figure in (("w1a", "p50_ms"), ("w1a", "p99_ms"), ("w1d", "rps"), ("w1d_raw", "rps")):
        metrics[f"ratio.{name}_{figure.removesuffix('_ms')}_100k_vs_empty"] = ratio(
            metrics.get(f"{name}_100k.{figure}", math.nan),
            metrics.get(f"{name}.{figure}", math.nan),
        )


_WARM_CHECKS: dict[str, Callable[[str, Task], bool]] = {
    "w1": graphs.w1_ok,
    "w3": graphs.w3_ok,
    "streams": graphs.stream_ok,
}


async def _warm_up(record: RunRecord, target: Target, deployed: dict[str, str]) -> None:
    """A few sync invokes of each deployed graph (untimed) so lazy start-up costs stay out of
    the figures."""
    api = Api(target.client)
    for graph, count in WARM_UP.items():
        workflow_id = deployed[graph]
        if not workflow_id:
            continue
        check = _WARM_CHECKS[graph]
        for i in range(count):
            text = workloads.text_of(i)
            task = await api.invoke_sync(workflow_id, text)
            api.tally.checked += 1
            if task is None:
                continue
            if api.record_terminal(task) and not check(text, task):
                api.tally.bad_results += 1
    record.tallies["warm-up"] = api.tally.as_dict()


async def _store_loops(record: RunRecord, backend: str, store: server.Store, sizes: Sizes) -> None:
    """The bare-loop baselines, in this process (core 1) while the server idles."""
    loop_db = store.workdir / "bare-loop.db"
    record.metrics["baseline.sqlite_loop_tps"] = await asyncio.to_thread(
        baseline.sqlite_loop, loop_db, sizes.loop_tasks
    )
    if backend == "postgres":
        tasks = max(100, sizes.loop_tasks // 3)
        record.metrics["baseline.pg_loop_tps"] = await baseline.postgres_loop(store.url, tasks)


class _Measurer:
    """Runs one workload under a hard timeout, samples CPU around it, then checks results."""

    def __init__(self, record: RunRecord, target: Target, server_pid: int) -> None:
        self._record = record
        self._target = target
        self._pid = server_pid

    async def __call__(self, name: str, make: Callable[[], Awaitable[Outcome]]) -> Outcome | None:
        before = probes.cpu_sample(self._pid)
        try:
            async with asyncio.timeout(self._target.sizes.deadline_s + HARD_TIMEOUT_MARGIN_S):
                outcome = await make()
        except Exception as exc:
            self._record.failures.append(f"{name}: {type(exc).__name__}: {exc}")
            return None
        after = probes.cpu_sample(self._pid)
        await workloads.verify(self._target, outcome)
        if outcome.tally.unfinished:
            still_open = await workloads.settle(self._target)
            progress(f"    {name}: hit its deadline; {still_open} tasks still open after settling")
        figures = outcome.metrics | probes.cpu_percent(before, after)
        figures |= _costs(figures, outcome.tally.requests)
        self._record.metrics.update({f"{name}.{k}": v for k, v in figures.items()})
        self._record.tallies[name] = outcome.tally.as_dict()
        progress(f"    {name}: " + ", ".join(f"{k} {report.fmt(v)}" for k, v in figures.items()))
        return outcome


def _costs(figures: dict[str, float], requests: int) -> dict[str, float]:
    """Server CPU per HTTP request, and server + sandbox CPU per completed task."""
    server_s = figures.get("cpu_server_s", math.nan)
    costs = {
        "http_requests": float(requests),
        "server_ms_per_request": ratio(server_s * 1000.0, float(requests)),
    }
    tasks = figures.get("tasks_done")
    if tasks is not None:
        total_s = server_s + figures.get("cpu_sandbox_s", math.nan)
        costs["cpu_ms_per_task"] = ratio(total_s * 1000.0, tasks)
    return costs


def _add_ratios(metrics: dict[str, float], backend: str) -> None:
    nan = math.nan
    loop_key = "baseline.pg_loop_tps" if backend == "postgres" else "baseline.sqlite_loop_tps"
    loop = metrics.get(loop_key, nan)
    health = metrics.get("health.rps", nan)
    metrics["ratio.w1d_vs_health"] = ratio(metrics.get("w1d.rps", nan), health)
    metrics["ratio.w1c_vs_health"] = ratio(metrics.get("w1c.rps", nan), health)
    metrics["ratio.w1d_raw_vs_health_raw"] = ratio(
        metrics.get("w1d_raw.rps", nan), metrics.get("health_raw.rps", nan)
    )
    metrics["ratio.w1b_vs_loop"] = ratio(metrics.get("w1b.tasks_per_s", nan), loop)
    metrics["ratio.w1c_vs_loop"] = ratio(metrics.get("w1c.rps", nan), loop)
    metrics["ratio.w3_vs_loop"] = ratio(metrics.get("w3.tasks_per_s", nan), loop)
    metrics["ratio.streams_p50_vs_lone"] = ratio(
        metrics.get("streams.delay_p50_ms", nan), metrics.get("streams_1.delay_p50_ms", nan)
    )


# -- a backend: several runs, summarised -----------------------------------------------------


def summarise(records: list[RunRecord]) -> dict[str, Spread]:
    keys = sorted({key for record in records for key in record.metrics})
    return {key: spread([r.metrics.get(key, math.nan) for r in records]) for key in keys}


def problems_of(records: list[RunRecord]) -> dict[str, Any]:
    items: list[str] = []
    checked = 0
    for number, record in enumerate(records, start=1):
        items += [f"run {number}: {failure}" for failure in record.failures]
        for workload, tally in record.tallies.items():
            checked += tally["results_checked"]
            if tally["problems"]:
                details = {k: v for k, v in tally.items() if v and k != "problems"}
                items.append(f"run {number} {workload}: {details}")
    total = sum(record.problems() for record in records)
    return {"total": total, "checked": checked, "items": items}


async def bench_backend(backend: str, options: Options) -> list[RunRecord]:
    records = []
    for number in range(1, options.runs + 1):
        progress(f"[{backend}] run {number}/{options.runs}")
        record = await one_run(backend, options)
        progress(f"[{backend}] run {number} done in {record.wall_s:.0f} s")
        for failure in record.failures:
            progress(f"!!! [{backend}] run {number}: {failure}")
        records.append(record)
    return records


# -- the command -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=None, help="default 3 (1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smaller counts, for smoke use")
    parser.add_argument(
        "--shared-client",
        action="store_true",
        help="one httpx client for all concurrent clients (costs the driver much more CPU)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=None,
        metavar="SECONDS",
        help="per-workload time limit (default 120, 45 with --quick); what is not done by "
        "then is reported as unfinished",
    )
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        metavar="PART[,PART]",
        help=f"run only these parts, out of {', '.join(PARTS)} (default: all)",
    )
    parser.add_argument(
        "--w2-concurrency",
        default=",".join(str(c) for c in w2.DEFAULT_CONCURRENCY),
        metavar="N[,N]",
        help="TASKLOOM_WORKER_CONCURRENCY settings W2 is measured with, one server each "
        "(default: %(default)s; 64 is the server's default)",
    )
    parser.add_argument(
        "--waits",
        type=int,
        default=None,
        metavar="N",
        help="tasks the waits part pauses at once (default 10,000; 300 with --quick)",
    )
    parser.add_argument("--pg-admin-url", default=server.DEFAULT_PG_ADMIN_URL)
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the server, e.g. TASKLOOM_WORKER_CONCURRENCY=32",
    )
    args = parser.parse_args(argv)
    server.require_loopback(args.pg_admin_url)
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    if runs < 1:
        parser.error("--runs must be at least 1")
    if args.waits is not None and args.waits < 1:
        parser.error("--waits must be at least 1")
    env = dict(item.split("=", 1) for item in args.server_env if "=" in item)
    wanted = {part.strip() for part in args.only.split(",") if part.strip()}
    if not wanted or not wanted <= set(PARTS):
        parser.error(f"--only takes some of {', '.join(PARTS)}, got {args.only!r}")
    try:
        w2_concurrency = tuple(int(c) for c in args.w2_concurrency.split(",") if c.strip())
    except ValueError:
        w2_concurrency = ()
    if not w2_concurrency or min(w2_concurrency) < 1:
        parser.error(f"--w2-concurrency takes positive integers, got {args.w2_concurrency!r}")
    return Options(
        backends=["sqlite", "postgres"] if args.backend == "both" else [args.backend],
        runs=runs,
        quick=args.quick,
        sizes=_sizes(args.quick, args.deadline, args.waits),
        shared_client=args.shared_client,
        pg_admin_url=args.pg_admin_url,
        server_env=env,
        parts=tuple(part for part in PARTS if part in wanted),
        w2_concurrency=w2_concurrency,
    )


def _sizes(quick: bool, deadline_s: float | None, waits_count: int | None) -> Sizes:
    sizes = Sizes.quick() if quick else Sizes()
    if waits_count is not None:
        sizes = replace(sizes, waits=waits_count)
    return sizes if deadline_s is None else replace(sizes, deadline_s=deadline_s)


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(server.ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    python = platform.python_version()
    return f"{os.cpu_count()} x {model}, Linux {platform.release()}, Python {python}"


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def metadata(argv: list[str], options: Options, driver_loop: str) -> dict[str, Any]:
    return {
        "runs_requested": options.runs,
        "parts": list(options.parts),
        "w2_concurrency": list(options.w2_concurrency) if "w2" in options.parts else [],
        "started_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "commit": _git("log", "-1", "--format=%h") or "unknown",
        "dirty": bool(_git("status", "--porcelain", "--", "src")),
        "command": shlex.join([".venv/bin/python", "bench/run.py", *argv]),
        "machine": _machine(),
        "load_start": _load(),
        "pressure_start": probes.cpu_pressure(),
        "driver_loop": driver_loop,
        "driver_http": "one httpx client shared"
        if options.shared_client
        else (f"{LANES} httpx clients, one per concurrent client"),
    }


def skip_sniffio_lookup() -> None:
    """httpcore imports `sniffio` on every lock it makes; it is not installed here, and a
    failed import walks sys.path each time (~25% of the driver's CPU per request). A None entry
    in sys.modules makes that import fail at once, and httpcore then assumes asyncio, which is
    what it would conclude anyway."""
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


def pin_driver() -> None:
    """The driver runs on core 1 (the server gets core 0 through taskset)."""
    try:
        os.sched_setaffinity(0, {DRIVER_CORE})
    except OSError as exc:
        progress(f"!!! could not pin the driver to core {DRIVER_CORE}: {exc}")


def loop_factory() -> tuple[Callable[[], asyncio.AbstractEventLoop] | None, str]:
    try:
        import uvloop
    except ImportError:
        return None, "asyncio"
    return uvloop.new_event_loop, "uvloop"


def save(
    meta: dict[str, Any], options: Options, results: dict[str, list[RunRecord]]
) -> tuple[dict[str, dict[str, Spread]], dict[str, dict[str, Any]]]:
    stamp = meta["started_utc"].replace("-", "").replace(":", "").replace(" ", "T") + "Z"
    summaries = {backend: summarise(records) for backend, records in results.items()}
    problems = {backend: problems_of(records) for backend, records in results.items()}
    for backend, records in results.items():
        report.write_json(
            RESULTS / f"{stamp}-{backend}.json",
            {
                **meta,
                "backend": backend,
                "sizes": asdict(options.sizes),
                "server_env": options.server_env,
                "summary": {k: s.as_dict() for k, s in summaries[backend].items()},
                "problems": problems[backend],
                "runs": [asdict(record) for record in records],
            },
        )
    return summaries, problems


async def bench(options: Options) -> dict[str, list[RunRecord]]:
    return {backend: await bench_backend(backend, options) for backend in options.backends}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    options = parse_args(argv)
    pin_driver()
    skip_sniffio_lookup()
    for signum in (signal.SIGINT, signal.SIGTERM):  # clean up on kill too, even if inherited
        signal.signal(signum, signal.default_int_handler)  # as ignored (background jobs)
    factory, loop_name = loop_factory()
    meta = metadata(argv, options, loop_name)
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            results = runner.run(bench(options))
    except KeyboardInterrupt:
        progress("interrupted: servers stopped, scratch databases removed, nothing written")
        return 130
    meta["load_end"] = _load()
    meta["pressure_end"] = probes.cpu_pressure()
    summaries, problems = save(meta, options, results)
    text = report.markdown(meta, summaries, problems)
    (RESULTS / "latest.md").write_text(text)
    print(text)
    total = sum(p["total"] for p in problems.values())
    if total:
        progress(f"!!! {total} PROBLEMS during the benchmark: see the Errors section above")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
