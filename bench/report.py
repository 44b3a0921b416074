"""Turning runs into figures: the table printed and written to latest.md, and the JSON files.

Every figure is the median over the runs with its min-max spread; targets (from the issue)
are marked with a check or a cross against the median.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stats import Spread


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    label: str
    # target per backend: (comparison, threshold); "<=" or ">="
    targets: Mapping[str, tuple[str, float]] = field(default_factory=dict)


def _both(op: str, value: float) -> dict[str, tuple[str, float]]:
    return {"sqlite": (op, value), "postgres": (op, value)}


FIGURES = [
    Row("w1a.p50_ms", "w1a invoke→terminal p50 (ms)", _both("<=", 5)),
    Row("w1a.p95_ms", "w1a invoke→terminal p95 (ms)"),
    Row("w1a.p99_ms", "w1a invoke→terminal p99 (ms)", _both("<=", 20)),
    Row("w1a.invoke_p50_ms", "w1a invoke call alone p50 (ms)"),
    Row("w1b.invoke_rps", "w1b invokes/s accepted"),
    Row(
        "w1b.tasks_per_s",
        "w1b tasks/s completed",
        {"sqlite": (">=", 1000), "postgres": (">=", 400)},
    ),
    Row("w1b.server_tasks_per_s", "w1b tasks/s by server clock (created→finished)"),
    Row("mem.after_w1b_mib", "server peak RSS after w1b (MiB)"),
    Row(
        "mem.after_w1b_tree_mib",
        "RSS after w1b, server + sandbox interpreters (MiB)",
        _both("<=", 120),
    ),
    Row(
        "mem.after_w1b_tree_pss_mib",
        "PSS after w1b, server + interpreters (MiB, shared pages once)",
    ),
    Row("mem.end_mib", "server peak RSS at end (MiB)"),
    Row("mem.sandbox_rss_end_mib", "sandbox interpreters RSS at end (MiB)"),
    Row("w1c.rps", "w1c sync invokes/s"),
    Row("w1c.p50_ms", "w1c p50 (ms)"),
    Row("w1c.p99_ms", "w1c p99 (ms)"),
    Row("w1d.rps", "w1d GET task req/s", _both(">=", 3000)),
    Row("w1d.p50_ms", "w1d p50 (ms)"),
    Row("w1d.p99_ms", "w1d p99 (ms)"),
    Row("w1d_raw.rps", "w1d GET task req/s, raw client (driver-ceiling check)", _both(">=", 3000)),
    Row("w1d_raw.p50_ms", "w1d p50 (ms), raw client"),
    Row("w3.tasks_per_s", "w3 tasks/s", {"sqlite": (">=", 300)}),
    Row("w3.p50_ms", "w3 p50 (ms)"),
    Row("w3.p99_ms", "w3 p99 (ms)"),
    Row(
        "streams.delay_p50_ms",
        "streams: finished_at → task_finished read p50 (ms)",
        _both("<=", 10),
    ),
    Row(
        "streams.delay_p99_ms",
        "streams: finished_at → task_finished read p99 (ms)",
        _both("<=", 50),
    ),
    Row("streams.delay_max_ms", "streams: finished_at → task_finished read max (ms)"),
    Row("streams.streams", "streams: opened (clients x rounds)"),
    Row("streams.streams_done", "streams: task_finished received"),
    Row("streams.open_at_delivery_p50", "streams: open when a task_finished arrived, median"),
    Row("streams.peak_open", "streams: open at once, peak"),
    Row("streams.tasks_per_s", "streams: tasks/s delivered"),
    Row("streams.stream_open_p50_ms", "streams: POST → response head p50 (ms)"),
    Row(
        "streams.node_gap_p50_ms", "streams: node end → task finished_at p50 (ms, before the stamp)"
    ),
    Row(
        "streams.node_gap_p99_ms", "streams: node end → task finished_at p99 (ms, before the stamp)"
    ),
    Row("streams.driver_lag_p99_ms", "streams: driver event-loop lag p99 (ms)"),
    Row("waits_pause.tasks_paused", "waits: tasks paused at a wait node at once"),
    Row("waits_pause.invoke_rps", "waits: invokes/s accepted"),
    Row("waits_pause.paused_per_s", "waits: tasks/s paused (first invoke → last paused seen)"),
    Row(
        "waits_pause.server_paused_per_s", "waits: tasks/s paused by server clock (created→paused)"
    ),
    Row("mem.waits_paused_tree_rss_mib", "waits: server RSS while they wait, process tree (MiB)"),
    Row("mem.waits_paused_server_rss_mib", "waits: server RSS while they wait, server alone (MiB)"),
    Row(
        "ratio.waits_tree_rss_vs_idle",
        "waits: RSS while they wait ÷ idle RSS, process tree",
        _both("<=", 1.1),
    ),
    Row("ratio.waits_server_rss_vs_idle", "waits: RSS while they wait ÷ idle RSS, server alone"),
    Row(
        "mem.waits_paused_quiet_cpu_server_pct",
        "waits: server CPU while they wait, no requests (%)",
    ),
    Row("waits_approve.tasks_done", "waits: tasks approved by 32 clients, completed"),
    Row("waits_approve.p50_ms", "waits: approve sent → completed seen p50 (ms)", _both("<=", 20)),
    Row("waits_approve.p95_ms", "waits: approve sent → completed seen p95 (ms)"),
    Row("waits_approve.p99_ms", "waits: approve sent → completed seen p99 (ms)", _both("<=", 100)),
    Row("waits_approve.max_ms", "waits: approve sent → completed seen max (ms)"),
    Row("waits_approve.approve_call_p50_ms", "waits: approve call alone p50 (ms)"),
    Row("waits_approve.approvals_per_s", "waits: approvals/s, 32 clients (to completion seen)"),
    Row(
        "waits_approve.server_resume_p50_ms",
        "waits: server clock, decided_at → finished_at p50 (ms)",
    ),
    Row(
        "waits_approve.server_resume_p99_ms",
        "waits: server clock, decided_at → finished_at p99 (ms)",
    ),
    Row("waits_w1a_paused.p50_ms", "waits: w1a p50 while they wait (ms)"),
    Row("waits_w1a_paused.p99_ms", "waits: w1a p99 while they wait (ms)"),
    Row("store100k.rows_tasks", "store100k: tasks in the store beside the workload"),
    Row("w1a_100k.p50_ms", "store100k: w1a p50 beside them (ms)"),
    Row("w1a_100k.p99_ms", "store100k: w1a p99 beside them (ms)"),
    Row("w1d_100k.rps", "store100k: w1d GET task req/s beside them"),
    Row("w1d_raw_100k.rps", "store100k: w1d req/s beside them, raw client"),
    Row("ratio.w1a_p50_100k_vs_empty", "store100k: w1a p50 ÷ empty store", _both("<=", 1.1)),
    Row("ratio.w1a_p99_100k_vs_empty", "store100k: w1a p99 ÷ empty store"),
    Row("ratio.w1d_rps_100k_vs_empty", "store100k: w1d req/s ÷ empty store", _both(">=", 0.9)),
    Row(
        "ratio.w1d_raw_rps_100k_vs_empty",
        "store100k: w1d raw req/s ÷ empty store",
        _both(">=", 0.9),
    ),
]

BASELINES = [
    Row("health.rps", "baseline: GET /health req/s (32 clients)"),
    Row("health.p50_ms", "baseline: GET /health p50 (ms)"),
    Row("health_raw.rps", "baseline: GET /health req/s, raw client"),
    Row("baseline.sqlite_loop_tps", "baseline: bare SQLite loop, 5 commits/task (tasks/s)"),
    Row("baseline.pg_loop_tps", "baseline: bare asyncpg loop, 5 commits/task (tasks/s)"),
    Row("streams_1.delay_p50_ms", "baseline: lone stream, finished_at → task_finished p50 (ms)"),
    Row("streams_1.delay_max_ms", "baseline: lone stream, finished_at → task_finished max (ms)"),
    Row("streams_1.node_gap_p50_ms", "baseline: lone stream, node end → task finished_at p50 (ms)"),
    Row("ratio.w1d_vs_health", "w1d req/s ÷ /health req/s"),
    Row("ratio.w1d_raw_vs_health_raw", "w1d req/s ÷ /health req/s, raw client"),
    Row("ratio.w1c_vs_health", "w1c req/s ÷ /health req/s"),
    Row("ratio.w1b_vs_loop", "w1b tasks/s ÷ bare store loop"),
    Row("ratio.w1c_vs_loop", "w1c req/s ÷ bare store loop"),
    Row("ratio.w3_vs_loop", "w3 tasks/s ÷ bare store loop"),
    Row("ratio.streams_p50_vs_lone", "streams delay p50 ÷ lone-stream delay p50"),
    Row("mem.waits_idle_tree_rss_mib", "baseline: server RSS before the waits, process tree (MiB)"),
    Row(
        "mem.waits_idle_server_rss_mib", "baseline: server RSS before the waits, server alone (MiB)"
    ),
    Row(
        "mem.waits_idle_quiet_cpu_server_pct",
        "baseline: server CPU before the waits, no requests (%)",
    ),
    Row("mem.waits_idle_descendants", "baseline: sandbox interpreters before the waits"),
    Row("mem.waits_paused_descendants", "sandbox interpreters while they wait"),
    Row("waits_w1a_idle.p50_ms", "baseline: w1a p50 before the waits (ms)"),
    Row("waits_w1a_idle.p99_ms", "baseline: w1a p99 before the waits (ms)"),
    Row("waits_approve_1.p50_ms", "baseline: lone approval, approve sent → completed p50 (ms)"),
    Row("waits_approve_1.p99_ms", "baseline: lone approval, approve sent → completed p99 (ms)"),
    Row("waits_approve_1.approve_call_p50_ms", "baseline: lone approval, approve call p50 (ms)"),
    Row(
        "waits_approve_1.server_resume_p50_ms",
        "baseline: lone approval, decided_at → finished_at p50 (ms)",
    ),
    Row("ratio.waits_approve_p50_vs_lone", "approval p50, 32 clients ÷ lone"),
    Row("ratio.waits_approve_p99_vs_lone", "approval p99, 32 clients ÷ lone"),
    Row("ratio.waits_w1a_p50_vs_idle", "w1a p50 while they wait ÷ before"),
    Row("ratio.waits_w1a_p99_vs_idle", "w1a p99 while they wait ÷ before"),
]

WORKLOADS = [
    "health",
    "health_raw",
    "w1a",
    "w1b",
    "w1c",
    "w1d",
    "w1d_raw",
    "w3",
    "streams_1",
    "streams",
    "waits_w1a_idle",
    "waits_pause",
    "waits_w1a_paused",
    "waits_approve_1",
    "waits_approve",
    "w1a_100k",
    "w1d_100k",
    "w1d_raw_100k",
]
CPU_COLUMNS = [
    ("cpu_server_pct", "server CPU"),
    ("cpu_sandbox_pct", "sandboxes CPU"),
    ("cpu_driver_pct", "driver CPU"),
    ("wait_server_pct", "server waiting for core 0"),
    ("wait_driver_pct", "driver waiting for core 1"),
    ("http_requests", "HTTP requests"),
    ("server_ms_per_request", "server CPU ms / request"),
    ("cpu_ms_per_task", "server+sandbox CPU ms / task"),
]


def w2_figures(concurrency: int) -> list[Row]:
    """W2's rows for one worker-concurrency setting (w2.py): the workflow, then the agent."""
    c = f"_c{concurrency}"
    at = f"concurrency {concurrency}"
    rows: list[Row] = []
    for name, what in (("w2", "workflow"), ("w2_direct", "agent direct")):
        label = f"{name} ({what}, {at})"
        rows += [
            Row(f"{name}{c}.wall_s", f"{label}: wall, 500 tasks (s)", {"sqlite": ("<=", 1)}),
            Row(
                f"{name}{c}.eff_concurrency", f"{label}: effective concurrency (500 x 0.2 s / wall)"
            ),
            Row(f"{name}{c}.invoke_phase_s", f"{label}: 500 invokes accepted after (s)"),
            Row(
                f"{name}{c}.server_wall_s",
                f"{label}: server clock, first created → last finished (s)",
            ),
            Row(f"{name}{c}.server_peak_executing", f"{label}: tasks executing at once, peak"),
            Row(f"{name}{c}.model_peak_in_flight", f"{label}: model calls in flight at once, peak"),
            Row(
                f"{name}{c}.model_arrival_spread_s", f"{label}: first → last model call arrival (s)"
            ),
            Row(f"{name}{c}.claim_batches", f"{label}: claim batches (tasks sharing started_at)"),
            Row(f"{name}{c}.claim_batch_max", f"{label}: claim batch size, max"),
            Row(f"{name}{c}.queued_p50_ms", f"{label}: created → started p50 (ms)"),
            Row(f"{name}{c}.queued_max_ms", f"{label}: created → started max (ms)"),
            Row(f"{name}{c}.run_p50_ms", f"{label}: started → finished p50 (ms)"),
            Row(f"{name}{c}.run_max_ms", f"{label}: started → finished max (ms)"),
            Row(f"{name}{c}.db_commits_per_task", f"{label}: DB commits per task (PostgreSQL)"),
        ]
    return rows


def w2_baselines(concurrency: int) -> list[Row]:
    c = f"_c{concurrency}"
    return [
        Row(
            f"w2_floor{c}.wall_s",
            f"baseline: 500 calls straight to the fake model, wall (s), c={concurrency} run",
        ),
        Row(f"ratio.w2{c}_vs_floor", f"w2 wall ÷ fake-model floor (concurrency {concurrency})"),
        Row(
            f"ratio.w2_direct{c}_vs_floor",
            f"w2_direct wall ÷ fake-model floor (concurrency {concurrency})",
        ),
    ]


def w2_workloads(concurrency: int) -> list[str]:
    return [f"{name}_c{concurrency}" for name in ("w2_floor", "w2", "w2_direct")]


def fmt(value: float) -> str:
    if math.isnan(value):
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _meets(op: str, threshold: float, value: float) -> bool:
    return value <= threshold if op == "<=" else value >= threshold


def _cell(spread: Spread | None, target: tuple[str, float] | None) -> str:
    if spread is None or spread.runs == 0:
        return "—"
    text = fmt(spread.median)
    if spread.runs > 1:
        text += f" ({fmt(spread.low)}-{fmt(spread.high)})"
    if target is not None:
        text += " ✓" if _meets(*target, spread.median) else " ✗"
    return text


def _target_text(row: Row, backends: Sequence[str]) -> str:
    shown = {b: row.targets[b] for b in backends if b in row.targets}
    if not shown:
        return ""
    values = {f"{op} {threshold:,g}" for op, threshold in shown.values()}
    if len(values) == 1 and len(shown) == len(backends):
        return values.pop()
    return ", ".join(f"{op} {threshold:,g} ({b})" for b, (op, threshold) in shown.items())


def _unmeasured(spread: Spread | None) -> bool:
    return spread is None or spread.runs == 0


def table(
    rows: Sequence[Row], summaries: Mapping[str, Mapping[str, Spread]], *, targets: bool = True
) -> list[str]:
    """A markdown table: one column per backend, median (min-max) and a check mark."""
    backends = list(summaries)
    header = ["figure", *backends] + (["target"] if targets else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        if all(_unmeasured(summaries[b].get(row.key)) for b in backends):
            continue  # e.g. a part left out with --only
        cells = [row.label]
        cells += [_cell(summaries[b].get(row.key), row.targets.get(b)) for b in backends]
        if targets:
            cells.append(_target_text(row, backends))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def cpu_table(
    backend: str, summary: Mapping[str, Spread], workloads: Sequence[str] = WORKLOADS
) -> list[str]:
    """Per workload (rows): where the CPU went, medians over the runs, % of one core."""
    header = [f"{backend} workload", *(label for _, label in CPU_COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in workloads:
        cells = [summary.get(f"{name}.{key}") for key, _ in CPU_COLUMNS]
        if all(cell is None for cell in cells):
            continue
        shown = [fmt(cell.median) if cell is not None else "—" for cell in cells]
        lines.append("| " + " | ".join([name, *shown]) + " |")
    return lines


def problems_section(problems: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Loud when anything failed: non-completed tasks, HTTP errors, bad results, crashes."""
    lines: list[str] = []
    for backend, detail in problems.items():
        if detail["total"] == 0:
            lines.append(
                f"- {backend}: no errors; {detail['checked']} sampled results checked, all right."
            )
            continue
        lines.append(f"- **!!! {backend}: {detail['total']} PROBLEMS — figures are suspect !!!**")
        lines += [f"  - {item}" for item in detail["items"]]
    return lines


def markdown(
    meta: Mapping[str, Any],
    summaries: Mapping[str, Mapping[str, Spread]],
    problems: Mapping[str, Mapping[str, Any]],
) -> str:
    concurrencies = list(meta.get("w2_concurrency", []))
    figures = FIGURES + [row for c in concurrencies for row in w2_figures(c)]
    baselines = BASELINES + [row for c in concurrencies for row in w2_baselines(c)]
    workloads = WORKLOADS + [name for c in concurrencies for name in w2_workloads(c)]
    lines = [
        "# taskloom benchmark — latest results",
        "",
        f"- when: {meta['started_utc']} (UTC); commit `{meta['commit']}`"
        + (" (src/ had uncommitted changes)" if meta.get("dirty") else ""),
        f"- command: `{meta['command']}`",
        f"- machine: {meta['machine']}; load average at start {meta['load_start']}, "
        f"at end {meta.get('load_end', '?')}",
        f"- driver: {meta['driver_loop']} event loop, {meta['driver_http']}",
        f"- parts run: {', '.join(meta.get('parts', ['all']))}",
        f"- server pinned to core 0, driver to core 1; median of {meta['runs_requested']} run(s) "
        "(min-max) across runs; ✓/✗ = median against the target from the issue.",
        "",
        "## Errors",
        "",
        *problems_section(problems),
        "",
        "Server log tails and per-run details are in the JSON files next to this one.",
        "",
        "## Figures",
        "",
        *table(figures, summaries),
        "",
        "## Baselines (same run) and ratios",
        "",
        *table(baselines, summaries, targets=False),
        "",
        "## Where the time goes: CPU during each workload (medians)",
        "",
        "CPU and waiting are % of one core over the workload's wall time. *Waiting* is time",
        "the threads were ready to run but their core was busy: other processes on the box, or",
        "the server's own threads and sandboxes queueing behind each other on core 0. The last",
        "columns are costs: server CPU per HTTP request; server + sandbox CPU per task done.",
        f"CPU pressure (/proc/pressure/cpu) at start: `{meta['pressure_start']}`;"
        f" at end: `{meta.get('pressure_end', '?')}`.",
        "",
    ]
    for backend, summary in summaries.items():
        lines += [*cpu_table(backend, summary, workloads), ""]
    return "\n".join(lines)


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Strict JSON: NaN (a figure that could not be measured) is written as null."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_strict(payload), indent=2, allow_nan=False) + "\n")


def _strict(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value
