"""What the crash tests share: real taskloom processes, the API, and a direct view of the store.

Everything here waits against deadlines (never a blind sleep), and every process started
through a `Cluster` is killed at teardown, whatever happened, with the tail of its log printed
(pytest shows it for failing tests only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from taskloom.clock import utcnow
from taskloom.store.tables import node_runs, task_events, task_turns, tasks
from tests.support.server import (
    Process,
    create_key,
    free_port,
    process_env,
    start_worker,
    wait_ready,
)
from tests.support.workflows import code_node

T = TypeVar("T")

TERMINAL = frozenset({"completed", "error", "failed", "stopped"})

# short leases so that a dead worker's tasks come back within a couple of seconds
FAST_LEASES = {"lease_s": "2", "heartbeat_s": "0.5", "sweep_s": "0.5", "poll_s": "0.2"}


# -- waiting ---------------------------------------------------------------------------------


async def until(
    check: Callable[[], Awaitable[T | None]],
    *,
    within_s: float,
    what: str,
    interval: float = 0.05,
) -> T:
    """Poll `check` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + within_s
    last: Any = None
    while True:
        last = await check()
        if last is not None and last is not False:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"within {within_s} s: {what} (last check gave {last!r})")
        await asyncio.sleep(interval)


async def frozen_when(
    process: Process, check: Callable[[], Awaitable[T | None]], *, within_s: float, what: str
) -> T:
    """Freeze `process` (SIGSTOP) at a moment `check` holds, and return what it saw: a kill
    that follows interrupts exactly that state, however fast the process moves on."""

    async def frozen() -> T | None:
        process.freeze()
        found = await check()
        if found is not None and found is not False:
            return found
        process.thaw()
        return None

    return await until(frozen, within_s=within_s, what=what)


# -- workflows -------------------------------------------------------------------------------


def chain(nodes: int, sleep_s: float, *, name: str = "crash-chain") -> dict[str, Any]:
    """`nodes` slow code nodes in a row; node nK appends `|nK`, so the result shows the path."""
    ids = [f"n{k}" for k in range(1, nodes + 1)]
    return {
        "name": name,
        "output_format": "text",
        "orchestration_nodes": [
            code_node(
                node_id,
                f"import time\ntime.sleep({sleep_s})\nreturn input + '|{node_id}'",
                next_ids=[ids[k + 1]] if k + 1 < len(ids) else [],
            )
            for k, node_id in enumerate(ids)
        ],
    }


def chain_result(text: str, nodes: int) -> str:
    return text + "".join(f"|n{k}" for k in range(1, nodes + 1))


# -- processes -------------------------------------------------------------------------------


@dataclass
class Cluster:
    """The taskloom processes of one test, all on one database; killed at teardown."""

    database_url: str
    logs: Path
    processes: list[Process] = field(default_factory=list)
    _names: Counter[str] = field(default_factory=Counter)

    def _log(self, kind: str) -> Path:
        self._names[kind] += 1
        return self.logs / f"{kind}-{self._names[kind]}.log"

    def serve(self, **settings: str) -> tuple[Process, str]:
        """`taskloom serve` (embedded workers unless settings say otherwise); waits for /health."""
        port = free_port()
        server = Process(
            ["serve", "--port", str(port)],
            process_env(self.database_url, **settings),
            self._log("serve"),
        )
        self.processes.append(server)  # tracked before it can fail to come up
        server.start()
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, server)
        return server, base

    def api_only(self, **settings: str) -> tuple[Process, str]:
        return self.serve(embedded_workers="false", **settings)

    def worker(self, **settings: str) -> Process:
        process = start_worker(self.database_url, self._log("worker"), **settings)
        self.processes.append(process)
        return process

    def key(self, org: str = "crash") -> str:
        return create_key(self.database_url, org)

    def kill_all(self) -> None:
        for process in self.processes:
            with contextlib.suppress(OSError, ValueError, subprocess.SubprocessError):
                process.kill()

    def print_log_tails(self, lines: int = 40) -> None:
        for process in self.processes:
            if not process.log.exists():
                continue
            text = [
                line
                for line in process.log.read_text(errors="replace").splitlines()
                if " INFO alembic." not in line  # start-up noise
            ]
            code = process.popen.returncode if process.popen is not None else None
            print(f"----- {process.log.name} (exit code {code}), last {lines} lines -----")
            print("\n".join(text[-lines:]))


async def wait_logged(process: Process, text: str, *, within_s: float = 30.0) -> None:
    """Wait until `text` shows up in the process's log (e.g. "worker started")."""

    async def seen() -> bool:
        if process.popen is not None and process.popen.poll() is not None:
            raise AssertionError(f"{process.log.name} exited early ({process.popen.returncode})")
        return process.log.exists() and text in process.log.read_text(errors="replace")

    await until(seen, within_s=within_s, what=f"{process.log.name} logs {text!r}")


def log_text(process: Process) -> str:
    return process.log.read_text(errors="replace") if process.log.exists() else ""


# -- the API ---------------------------------------------------------------------------------


@dataclass
class Api:
    base: str
    key: str
    client: httpx.AsyncClient

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.key}

    async def deploy(self, body: dict[str, Any]) -> str:
        created = await self.client.post(
            f"{self.base}/v1/workflows", json=body, headers=self.headers
        )
        assert created.status_code == 201, created.text
        workflow_id: str = created.json()["id"]
        deployed = await self.client.put(
            f"{self.base}/v1/workflows/{workflow_id}", headers=self.headers
        )
        assert deployed.status_code == 200, deployed.text
        return workflow_id

    async def invoke(self, workflow_id: str, text: str) -> str:
        reply = await self.client.post(
            f"{self.base}/v1/workflows/{workflow_id}/invoke/async",
            json={"input": {"text": text}},
            headers=self.headers,
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "pending", reply.json()
        task_id: str = reply.json()["id"]
        return task_id

    async def invoke_turn(self, workflow_id: str, task_id: str, text: str) -> dict[str, Any]:
        """The next turn of `task_id`, queued behind the running one (`?busy=enqueue`)."""
        reply = await self.client.post(
            f"{self.base}/v1/workflows/{workflow_id}/invoke/async",
            params={"busy": "enqueue"},
            json={"input": {"text": text}, "id": task_id},
            headers=self.headers,
        )
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body

    async def events(self, task_id: str) -> list[dict[str, Any]]:
        """The task's whole event stream (it ends by itself once the task is terminal)."""
        reply = await self.client.get(
            f"{self.base}/v1/tasks/{task_id}/events", headers=self.headers, timeout=20.0
        )
        assert reply.status_code == 200, reply.text
        return [
            json.loads(line.removeprefix("data: "))
            for line in reply.text.splitlines()
            if line.startswith("data: ")
        ]

    async def task(self, task_id: str) -> dict[str, Any]:
        reply = await self.client.get(f"{self.base}/v1/tasks/{task_id}", headers=self.headers)
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body

    async def tasks(self, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(task_ids)
        found = await asyncio.gather(*(self.task(task_id) for task_id in ids))
        return dict(zip(ids, found, strict=True))


def completed_runs(task: dict[str, Any]) -> list[dict[str, Any]]:
    return [run for run in task["node_runs"] if run["status"] == "completed"]


# -- the store, read directly ----------------------------------------------------------------


def _driver_url(database_url: str) -> str:
    """The test's own mapping to async drivers (not taskloom's: the reader must stay neutral)."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


class Store:
    """Reads the task and node_run rows straight from the database the processes share."""

    def __init__(self, database_url: str) -> None:
        self._engine: AsyncEngine = create_async_engine(
            _driver_url(database_url), poolclass=NullPool
        )

    async def close(self) -> None:
        await self._engine.dispose()

    async def execute(self, statement: sa.Executable) -> None:
        """A change made behind the processes' backs (e.g. a schedule's slot moved)."""
        async with self._engine.begin() as conn:
            await conn.execute(statement)

    async def row(self, query: sa.Select[Any]) -> dict[str, Any]:
        async with self._engine.connect() as conn:
            return dict((await conn.execute(query)).mappings().one())

    async def tasks(self) -> dict[str, dict[str, Any]]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sa.select(tasks))).mappings().all()
        return {row["id"]: dict(row) for row in rows}

    async def events(self, task_id: str) -> list[dict[str, Any]]:
        """The task's event log as stored, in sequence order (what any stream replays)."""
        async with self._engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        sa.select(task_events)
                        .where(task_events.c.task_id == task_id)
                        .order_by(task_events.c.seq)
                    )
                )
                .mappings()
                .all()
            )
        return [dict(row) for row in rows]

    async def turns(self, task_id: str) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        sa.select(task_turns)
                        .where(task_turns.c.task_id == task_id)
                        .order_by(task_turns.c.turn)
                    )
                )
                .mappings()
                .all()
            )
        return [dict(row) for row in rows]

    async def node_runs(self) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            rows = (
                (await conn.execute(sa.select(node_runs).order_by(node_runs.c.id))).mappings().all()
            )
        return [dict(row) for row in rows]


def lease_problems(
    rows: dict[str, dict[str, Any]],
    *,
    now: datetime | None = None,
    expired_slack_s: float | None = None,
) -> list[str]:
    """Invariant 2 on the raw rows: the lease columns agree with the status.

    With `expired_slack_s`, an executing task whose lease ran out more than that long ago is a
    problem too (a live worker's sweeper should have taken it back by then).
    """
    now = now or utcnow()
    problems = []
    for task_id, row in rows.items():
        status, owner, expires = row["status"], row["lease_owner"], row["lease_expires_at"]
        if status == "executing":
            if owner is None or expires is None:
                problems.append(f"{task_id} executing without a lease: {owner=} {expires=}")
            elif expired_slack_s is not None and (now - expires).total_seconds() > expired_slack_s:
                problems.append(f"{task_id} executing on a lease that expired at {expires}")
        elif status == "pending":
            if owner is not None or expires is not None:
                problems.append(f"{task_id} pending but leased: {owner=} {expires=}")
        elif status in TERMINAL and (
            owner is not None or expires is not None or row["finished_at"] is None
        ):
            problems.append(
                f"{task_id} {status} but {owner=} {expires=} finished_at={row['finished_at']}"
            )
    return problems


def duplicate_checkpoints(runs: Iterable[dict[str, Any]]) -> list[str]:
    """Invariant 1: at most one completed run per (task, turn, step, iteration)."""
    seen = Counter(
        (run["task_id"], run["turn"], run["step"], run["iteration"])
        for run in runs
        if run["status"] == "completed"
    )
    return [f"{key} completed {count} times" for key, count in seen.items() if count > 1]


def trace_duplicates(task: dict[str, Any]) -> list[str]:
    """The same check on the API's trace of one task."""
    seen = Counter((run["turn"], run["step"], run["iteration"]) for run in completed_runs(task))
    return [
        f"{task['id']} {key} completed {count} times" for key, count in seen.items() if count > 1
    ]


class LeaseWatch:
    """Samples the lease columns while a test waits, and remembers every inconsistency seen,
    and the most leases any one worker held at once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.problems: list[str] = []
        self.peak: Counter[str] = Counter()

    async def sample(self) -> dict[str, dict[str, Any]]:
        rows = await self.store.tasks()
        self.problems.extend(lease_problems(rows))
        held = Counter(row["lease_owner"] for row in rows.values() if row["status"] == "executing")
        for owner, count in held.items():
            self.peak[owner] = max(self.peak[owner], count)
        return rows

    def over(self, concurrency: int) -> dict[str, int]:
        """Workers seen holding more leases than their `worker_concurrency` allows."""
        return {owner: peak for owner, peak in self.peak.items() if peak > concurrency}


# -- the checks every crash test makes at the end --------------------------------------------


@dataclass(frozen=True)
class Frozen:
    """The store right after a crash: which tasks the dead process held, which runs existed."""

    tasks: dict[str, dict[str, Any]]
    runs: list[dict[str, Any]]

    @classmethod
    async def read(cls, store: Store) -> Frozen:
        return cls(tasks=await store.tasks(), runs=await store.node_runs())

    def with_status(self, status: str, owner: str | None = None) -> set[str]:
        return {
            task_id
            for task_id, row in self.tasks.items()
            if row["status"] == status and (owner is None or row["lease_owner"] == owner)
        }

    def checkpoints(self, task_id: str) -> list[dict[str, Any]]:
        return [r for r in self.runs if r["task_id"] == task_id and r["status"] == "completed"]

    @property
    def run_ids(self) -> set[int]:
        return {run["id"] for run in self.runs}


def assert_all_completed_once(
    final: dict[str, dict[str, Any]],
    runs: list[dict[str, Any]],
    *,
    texts: dict[str, str],
    nodes: int,
) -> None:
    """Every task completed with the right result, each node completed exactly once, in order."""
    wrong = {
        task_id: (task["status"], task["status_reason"], task["result"])
        for task_id, task in final.items()
        if task["status"] != "completed" or task["result"] != chain_result(texts[task_id], nodes)
    }
    assert not wrong, f"tasks that did not complete with the right result: {wrong}"
    duplicates = duplicate_checkpoints(runs)
    for task in final.values():
        duplicates += trace_duplicates(task)
    assert not duplicates, f"completed nodes ran again: {duplicates}"
    expected = [(str(k), f"n{k}") for k in range(1, nodes + 1)]
    for task_id, task in final.items():
        done = sorted(
            ((run["step"], run["node_id"]) for run in completed_runs(task)),
            key=lambda step_node: [int(part) for part in step_node[0].split(".")],
        )
        assert done == expected, f"{task_id}: completed node runs {done}, expected {expected}"
        failed = [run for run in task["node_runs"] if run["status"] != "completed"]
        assert not failed, f"{task_id}: unexpected failed node runs {failed}"


def assert_resumed_from_checkpoints(
    final: dict[str, dict[str, Any]],
    runs: list[dict[str, Any]],
    frozen: Frozen,
    interrupted: set[str],
) -> None:
    """Tasks cut off mid-run were resumed by a later attempt that reused their checkpoints."""
    assert interrupted, "the crash interrupted no task: the test did not test anything"
    assert any(frozen.checkpoints(task_id) for task_id in interrupted), (
        "no interrupted task had a checkpoint yet: resuming from checkpoints was not exercised"
    )
    before = frozen.run_ids
    for task_id in interrupted:
        task = final[task_id]
        attempt_at_crash = frozen.tasks[task_id]["attempt"]
        assert task["execution_attempts"] > attempt_at_crash, (
            f"{task_id}: interrupted at attempt {attempt_at_crash}, "
            f"finished with execution_attempts={task['execution_attempts']}"
        )
        kept = frozen.checkpoints(task_id)
        assert all(run["task_attempt"] <= attempt_at_crash for run in kept), kept
        later = [r for r in runs if r["task_id"] == task_id and r["id"] not in before]
        stale = [r for r in later if r["task_attempt"] <= attempt_at_crash]
        assert not stale, f"{task_id}: runs recorded after the crash by the dead attempt: {stale}"
        reused = {run["step"] for run in kept}
        rerun = sorted(
            r["step"] for r in later if r["status"] == "completed" and r["step"] in reused
        )
        assert not rerun, f"{task_id}: steps {rerun} completed before the crash and ran again"
        # the trace the API shows agrees: old runs carry the old attempt, new ones a higher one
        trace = {run["step"]: run["attempt"] for run in completed_runs(task)}
        for step, attempt in trace.items():
            if step in reused:
                assert attempt <= attempt_at_crash, (task_id, step, attempt)
            else:
                assert attempt > attempt_at_crash, (task_id, step, attempt)


async def assert_streams_end_finished(api: Api, final: dict[str, dict[str, Any]]) -> None:
    """Invariant 3 after a crash: each task's event stream, replayed from the store, ends with
    a `task_finished` that carries the task's final status (docs/events.md)."""
    for task_id, task in final.items():
        events = await api.events(task_id)
        last = events[-1] if events else {}
        finished = last.get("data") or {}
        assert last.get("type") == "task_finished", (
            f"{task_id} ({task['status']}, {task['status_reason']}): its stream ends with "
            f"{[event['type'] for event in events[-3:]]}, not task_finished"
        )
        assert (finished.get("status"), finished.get("status_reason")) == (
            task["status"],
            task["status_reason"],
        ), (task_id, finished)


def assert_leases_settled(rows: dict[str, dict[str, Any]], watch: LeaseWatch) -> None:
    final = lease_problems(rows, expired_slack_s=0.0)
    assert not final, f"lease columns at the end: {final}"
    assert not watch.problems, f"lease columns seen while waiting: {watch.problems[:20]}"
