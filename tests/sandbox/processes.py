"""What the host sees of sandbox processes: a process tree from /proc, waits on pidfds."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc (a snapshot)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def status_field(pid: int, name: str) -> str:
    """One field of /proc/<pid>/status, e.g. the real uid is status_field(pid, "Uid")[0]."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.strip()
    raise KeyError(name)


async def wait_exited(pids: set[int], timeout_s: float) -> None:
    """Wait (via pidfds, no polling) until every pid has exited."""
    loop = asyncio.get_running_loop()
    waits: list[asyncio.Future[None]] = []
    fds: list[int] = []
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        fds.append(fd)
        done: asyncio.Future[None] = loop.create_future()
        loop.add_reader(fd, lambda f=done: f.done() or f.set_result(None))
        waits.append(done)
    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*waits)
    finally:
        for fd in fds:
            loop.remove_reader(fd)
            os.close(fd)
