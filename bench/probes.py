"""Reading the server's memory and CPU time from /proc, and the driver's own CPU time.

Sandbox interpreters are the server's descendants; their CPU is the descendants' live times
plus what the server has reaped from them (cutime/cstime), so interpreters recycled during a
workload are still counted (approximately: one reaped by init is lost).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_TICK = float(os.sysconf("SC_CLK_TCK"))
MIB = 1024 * 1024


def _status_kib(pid: int, field: str) -> int | None:
    try:
        for line in (_PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def peak_rss_mib(pid: int) -> float:
    """VmHWM of one process, in MiB (NaN if it is gone)."""
    kib = _status_kib(pid, "VmHWM")
    return kib / 1024.0 if kib is not None else float("nan")


def rss_mib(pid: int) -> float:
    """Current VmRSS of one process, in MiB (NaN if it is gone)."""
    kib = _status_kib(pid, "VmRSS")
    return kib / 1024.0 if kib is not None else float("nan")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 is `state`)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """Every live descendant of pid (scans /proc: children files are not always available)."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def sandbox_rss_mib(pid: int) -> float:
    """Current resident memory of all the server's descendants (sandbox interpreters)."""
    total = sum(_status_kib(child, "VmRSS") or 0 for child in descendants(pid))
    return total / 1024.0


def tree_pss_mib(pid: int) -> float:
    """Proportional set size of the server and its descendants: each shared page (the Python
    binary and libraries every interpreter maps) counted once, split among its users."""
    total = 0
    for member in [pid, *descendants(pid)]:
        try:
            for line in (_PROC / str(member) / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except (OSError, ValueError):
            continue
    return total / 1024.0


def runqueue_wait_s(pid: int) -> float:
    """Seconds the threads of pid spent runnable but waiting for a CPU (schedstat field 2).

    For a pinned server this is time lost to anything else on its core: other processes, and
    its own threads and sandboxes competing with each other.
    """
    total = 0
    try:
        threads = list((_PROC / str(pid) / "task").iterdir())
    except OSError:
        return 0.0
    for thread in threads:
        try:
            total += int((thread / "schedstat").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def cpu_pressure() -> str:
    """The kernel's CPU pressure line (share of time some task waited for a CPU), if any."""
    try:
        return (_PROC / "pressure" / "cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return "unavailable"


@dataclass(frozen=True, slots=True)
class CpuSample:
    """Cumulative CPU seconds at one instant."""

    wall: float
    server: float
    sandboxes: float
    driver: float
    server_wait: float
    driver_wait: float


def cpu_sample(server_pid: int) -> CpuSample:
    own = _stat_fields(server_pid)
    server = sandboxes = 0.0
    if own is not None:
        # fields after the name: utime=11, stime=12, cutime=13, cstime=14
        server = (int(own[11]) + int(own[12])) / _TICK
        sandboxes = (int(own[13]) + int(own[14])) / _TICK
    for child in descendants(server_pid):
        fields = _stat_fields(child)
        if fields is not None:
            sandboxes += sum(int(value) for value in fields[11:15]) / _TICK
    times = os.times()
    return CpuSample(
        wall=time.perf_counter(),
        server=server,
        sandboxes=sandboxes,
        driver=times.user + times.system,
        server_wait=runqueue_wait_s(server_pid),
        driver_wait=runqueue_wait_s(os.getpid()),
    )


def cpu_percent(before: CpuSample, after: CpuSample) -> dict[str, float]:
    """CPU used between two samples, as % of one core over the wall time in between."""
    wall = after.wall - before.wall
    if wall <= 0:
        return {}
    server_s = after.server - before.server
    # a sandbox reaped outside the server's tree takes its counted time with it: never < 0
    sandbox_s = max(0.0, after.sandboxes - before.sandboxes)
    return {
        "cpu_server_s": server_s,
        "cpu_sandbox_s": sandbox_s,
        "cpu_server_pct": 100.0 * server_s / wall,
        "cpu_sandbox_pct": 100.0 * sandbox_s / wall,
        "cpu_driver_pct": 100.0 * (after.driver - before.driver) / wall,
        "wait_server_pct": 100.0 * (after.server_wait - before.server_wait) / wall,
        "wait_driver_pct": 100.0 * (after.driver_wait - before.driver_wait) / wall,
    }
