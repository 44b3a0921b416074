"""The waits part: many tasks paused at a wait node, what they cost while they wait, and how
fast they go on once approved.

The graph (graphs.wait_definition): a `wait` node (`hitl`) → one `code` node that returns
the decision it was handed (`approved`, `decided_by`, `decided_at`). In order, on one server:

- `waits_w1a_idle`: w1a (sequential W1 invokes, each polled to terminal) with nothing
  waiting: the baseline for `waits_w1a_paused`;
- `mem.waits_idle_*`: the server's resident memory (the process, and the process tree with
  its sandbox interpreters), current VmRSS, median of a few samples, before any wait;
- `waits_pause`: `waits` async invokes from 32 clients, then every task long-polled
  (`GET /v1/tasks/{id}?wait=S`, which answers once terminal or paused) until it is `paused`;
  anything else it ends as is an error. Invokes/s accepted, tasks paused/s;
- `mem.waits_paused_*`: the same memory figures while they all wait (and the paused count
  from the task list, as a second confirmation);
- `waits_w1a_paused`: w1a again, with all of them waiting;
- `waits_approve_1`: the first `waits_w1a` of them approved one at a time, each followed to
  completion before the next (the others still waiting): the lone-approval baseline;
- `waits_approve`: the rest, by 32 clients, each taking the next paused task: `POST
  .../approve` (with `decided_by` naming the task), then long-polls it until terminal;
  latency = approve sent → `completed` seen. p50/p95/p99, the approve call alone,
  approvals/s (first approve sent → last completion seen), and the server's own
  decided_at → finished_at.

Every approved task's final answer is checked after the timed part (status `completed`,
result `{"approved": true, "by": <its decider>}`), and 20 of them are read again.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from datetime import datetime

import probes
from api import TERMINAL, Api, Tally, Task
from graphs import wait_ok
from stats import latency_ms, percentile, rate
from workloads import Outcome, Sample, Target, run_clients, sample, text_of, until

CLIENTS = 32
LONG_POLL_S = 30.0  # per GET ?wait=; repeated until the workload's deadline
RSS_SAMPLES = 11
RSS_SAMPLE_GAP_S = 0.3  # 3 s in all: the server's CPU while nothing is asked of it, too


def decider(i: int) -> str:
    return f"bench {i}"


@dataclass
class Paused:
    """What `pause` leaves for the next steps: the paused tasks, in invoke order."""

    tasks: list[tuple[int, str]]  # (invoke index, task id)


# -- the wait graph's requests ---------------------------------------------------------------


async def long_poll(
    api: Api, task_id: str, deadline: float, until_status: frozenset[str]
) -> Task | None:
    """GET ?wait= until the task's status is in `until_status` (or terminal); None (counted
    unfinished) when the deadline passes first."""
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            api.tally.unfinished += 1
            return None
        wait_s = min(LONG_POLL_S, max(0.1, remaining))
        task = await api.get_task_settled(task_id, wait_s)
        if task is None:
            return None  # counted as an HTTP error
        if task["status"] in until_status or task["status"] in TERMINAL:
            return task


async def paused_total(api: Api) -> float:
    page = await api.list_tasks("paused")
    return float(page["total"]) if page is not None else float("nan")


# -- warm-up -----------------------------------------------------------------------------------


async def warm_up(target: Target, workflow_id: str, count: int = 3) -> Tally:
    """Invoke, wait for the pause, approve and wait for completion, a few times (untimed)."""
    api = Api(target.client)
    deadline = target.deadline()
    for i in range(count):
        by = f"warm-up {i}"
        task = await api.invoke_async(workflow_id, text_of(i))
        paused = None if task is None else await long_poll(api, task["id"], deadline, _PAUSED)
        if paused is None or not _is_paused(api.tally, paused):
            continue
        if await api.approve(paused["id"], by) is None:
            continue
        final = await long_poll(api, paused["id"], deadline, frozenset())
        api.tally.checked += 1
        if final is not None and api.record_terminal(final) and not wait_ok(by, final):
            api.tally.bad_results += 1
    return api.tally


_PAUSED = frozenset({"paused"})


def _is_paused(tally: Tally, task: Task) -> bool:
    if task["status"] == "paused":
        return True
    tally.bad_statuses[f"{task['status']} (expected paused)"] += 1
    return False


# -- memory ------------------------------------------------------------------------------------


async def memory(pid: int) -> dict[str, float]:
    """Current resident memory of the server process and of its process tree (sandbox
    interpreters included), median of a few samples, the interpreters alive, and the server's
    CPU over those 3 s in which no request is sent (% of one core)."""
    before = probes.cpu_sample(pid)
    server: list[float] = []
    tree: list[float] = []
    children: list[float] = []
    for n in range(RSS_SAMPLES):
        if n:
            await asyncio.sleep(RSS_SAMPLE_GAP_S)
        own = probes.rss_mib(pid)
        kids = probes.sandbox_rss_mib(pid)
        server.append(own)
        tree.append(own + kids)
        children.append(float(len(probes.descendants(pid))))
    cpu = probes.cpu_percent(before, probes.cpu_sample(pid))
    return {
        "quiet_cpu_server_pct": cpu.get("cpu_server_pct", math.nan),
        "server_rss_mib": percentile(server, 50),
        "tree_rss_mib": percentile(tree, 50),
        "descendants": percentile(children, 50),
    }


# -- pause: N tasks invoked and confirmed paused --------------------------------------------


async def pause(target: Target, workflow_id: str) -> tuple[Outcome, Paused]:
    """`waits` async invokes from 32 clients, then each long-polled until it is paused."""
    tally = Tally()
    deadline = target.deadline()
    accepted: list[tuple[int, str]] = []
    indices = until(target.sizes.waits, deadline, tally)

    async def invoker(api: Api) -> None:
        for i in indices:
            task = await api.invoke_async(workflow_id, text_of(i))
            if task is not None:
                accepted.append((i, task["id"]))

    started = time.perf_counter()
    await run_clients(target, CLIENTS, tally, invoker)
    invoked = time.perf_counter()
    answers: dict[str, Task] = {}
    pending = iter(accepted)
    last_seen = invoked

    async def poller(api: Api) -> None:
        nonlocal last_seen
        for _i, task_id in pending:
            task = await long_poll(api, task_id, deadline, _PAUSED)
            if task is not None:
                answers[task_id] = task
                last_seen = time.perf_counter()

    await run_clients(target, CLIENTS, tally, poller)
    # checks, after the timed part: paused, asking about the task's own input
    paused: list[tuple[int, str]] = []
    for i, task_id in accepted:
        task = answers.get(task_id)
        if task is None or not _is_paused(tally, task):
            continue
        tally.checked += 1
        if (task.get("hitl_request") or {}).get("content") != text_of(i):
            tally.bad_results += 1
            continue
        paused.append((i, task_id))
    metrics = {
        "invoke_rps": rate(len(accepted), invoked - started),
        "paused_per_s": rate(len(paused), last_seen - started),
        "server_paused_per_s": _server_rate(list(answers.values()), "paused_at"),
        "tasks_paused": float(len(paused)),
    }
    return Outcome(metrics, tally), Paused(paused)


def _server_rate(tasks: list[Task], end_field: str) -> float:
    """Tasks/s by the server's own clock: first created_at to the last `end_field`."""
    try:
        created = min(datetime.fromisoformat(t["created_at"]) for t in tasks)
        ended = max(datetime.fromisoformat(t[end_field]) for t in tasks)
    except (KeyError, TypeError, ValueError):
        return float("nan")
    return rate(len(tasks), (ended - created).total_seconds())


# -- approve: each paused task approved and followed to completion ----------------------------


async def approve(target: Target, tasks: list[tuple[int, str]], clients: int) -> Outcome:
    """Closed-loop clients: approve the next paused task, long-poll it to terminal."""
    tally = Tally()
    deadline = target.deadline()
    latencies: list[float] = []
    calls: list[float] = []
    finals: list[tuple[int, Task]] = []
    queue = iter(tasks)
    first_sent: float | None = None
    last_seen = time.perf_counter()

    async def client(api: Api) -> None:
        nonlocal first_sent, last_seen
        for i, task_id in queue:
            if time.perf_counter() >= deadline:
                tally.unfinished += 1
                continue
            sent = time.perf_counter()
            if first_sent is None:
                first_sent = sent
            answer = await api.approve(task_id, decider(i))
            answered = time.perf_counter()
            if answer is None:
                continue
            final = answer if answer["status"] in TERMINAL else None
            if final is None:
                final = await long_poll(api, task_id, deadline, frozenset())
            if final is None:
                continue
            seen = time.perf_counter()
            last_seen = seen
            if final["status"] == "completed":
                latencies.append(seen - sent)
            calls.append(answered - sent)
            finals.append((i, final))

    await run_clients(target, clients, tally, client)
    # checks, after the timed part: every task completed with the decision it was given
    done: list[tuple[str, str]] = []
    resumed: list[float] = []
    for i, task in finals:
        tally.checked += 1
        if not Api.record(tally, task):
            continue
        if not wait_ok(decider(i), task):
            tally.bad_results += 1
            continue
        done.append((task["id"], decider(i)))
        gap = _decided_to_finished(task)
        if not math.isnan(gap):
            resumed.append(gap)
    p50, p95, p99, p100 = latency_ms(latencies, 50, 95, 99, 100)
    (call_p50,) = latency_ms(calls, 50)
    server_p50, server_p99 = latency_ms(resumed, 50, 99)
    metrics = {
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "max_ms": p100,
        "approve_call_p50_ms": call_p50,
        "approvals_per_s": rate(len(done), last_seen - (first_sent or last_seen)),
        "server_resume_p50_ms": server_p50,
        "server_resume_p99_ms": server_p99,
        "tasks_done": float(len(done)),
    }
    return Outcome(metrics, tally, _samples(done))


def _decided_to_finished(task: Task) -> float:
    """decided_at (in the result, from the wait node's output) → finished_at, in seconds."""
    try:
        decided = json.loads(task["result"])["at"]
        return (
            datetime.fromisoformat(task["finished_at"]) - datetime.fromisoformat(decided)
        ).total_seconds()
    except (KeyError, TypeError, ValueError):
        return float("nan")


def _samples(done: list[tuple[str, str]]) -> list[Sample]:
    return sample(done, "wait")
