"""The usual escape attempts, as user code in a code node's `main(input)`, on real bubblewrap.

Each test runs through the pool exactly as a code node does and asserts the real outcome on
this machine. None of them skips: CI installs bubblewrap, and a machine where it cannot run
fails here rather than pass without testing isolation. CI runs as root, the case that matters.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from taskloom.config import SandboxConfig
from taskloom.errors import CodeError, NodeTimeout
from taskloom.sandbox import SandboxPool
from tests.sandbox.processes import descendants, status_field, wait_exited

MEMORY_LIMIT_MB = 256
PROCESS_LIMIT = 64
CONFIG = SandboxConfig(
    mode="bwrap",
    pool_size=1,
    memory_limit_mb=MEMORY_LIMIT_MB,
    process_limit=PROCESS_LIMIT,
    cpu_limit_s=30,
)
UPPER = "def main(input):\n    return input.upper()\n"
# What every attempt below returns for a path it could not open: the exception's name.
OPEN_EACH = (
    "def main(paths):\n"
    "    out = {}\n"
    "    for p in paths:\n"
    "        try:\n"
    "            with open(p, 'rb') as f:\n"
    "                out[p] = f.read().decode('utf-8', 'replace')\n"
    "        except OSError as exc:\n"
    "            out[p] = type(exc).__name__\n"
    "    return out\n"
)


@pytest.fixture
async def pool() -> AsyncIterator[SandboxPool]:
    async with SandboxPool(CONFIG) as pool:
        assert pool.mode == "bwrap"
        yield pool


async def run(pool: SandboxPool, code: str, input: object = None, **kw: Any) -> Any:
    kw.setdefault("timeout_s", 20.0)
    return await pool.run(org_id="org-evil", code=code, input=input, **kw)


def org_processes(pool: SandboxPool) -> set[int]:
    """The processes of the interpreter serving org-evil, bwrap included, as the host sees them."""
    (launched,) = [i.pid for i in pool._live if i.org == "org-evil"]
    return {launched} | descendants(launched)


async def test_escape_read_server_files_fails(pool: SandboxPool, tmp_path: Path) -> None:
    secret = tmp_path / "server-secret.txt"
    secret.write_text("the server's own file")
    database = tmp_path / "taskloom.db"
    with sqlite3.connect(database) as conn:
        conn.execute("create table keys (secret text)")
        conn.execute("insert into keys values ('sk-live-123')")
    conn.close()
    work_dir_file = Path.cwd() / "pyproject.toml"
    assert work_dir_file.exists()
    paths = [str(secret), str(database), str(work_dir_file)]
    assert await run(pool, OPEN_EACH, paths) == dict.fromkeys(paths, "FileNotFoundError")


async def test_escape_read_server_proc_environ_fails(pool: SandboxPool) -> None:
    server = os.getpid()
    paths = [f"/proc/{server}/environ", f"/proc/{os.getppid()}/environ", "/proc/1/environ"]
    result = await run(pool, OPEN_EACH, paths)
    # the server's pid does not exist in the sandbox's pid namespace; pid 1 there is bwrap's
    # init, owned by root outside the user namespace
    assert result[paths[0]] == result[paths[1]] == "FileNotFoundError"
    if os.getuid() == 0:
        assert result[paths[2]] == "PermissionError"
    else:  # init shares the server's uid outside; bwrap starts it with an empty environment
        assert result[paths[2]] in ("PermissionError", "")


async def test_escape_read_server_environment_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKLOOM_SECRET_KEY", "server-secret-key")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-key")
    async with SandboxPool(CONFIG) as pool:
        environment = await run(pool, "import os\ndef main(input):\n    return dict(os.environ)\n")
    assert environment == {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/tmp",
        "PWD": "/tmp",  # bwrap's --chdir
    }


async def test_escape_write_outside_tmp_fails(pool: SandboxPool, tmp_path: Path) -> None:
    code = (
        "def main(paths):\n"
        "    out = {}\n"
        "    for p in paths:\n"
        "        try:\n"
        "            with open(p, 'w') as f:\n"
        "                f.write('x')\n"
        "            out[p] = 'written'\n"
        "        except OSError as exc:\n"
        "            out[p] = type(exc).__name__\n"
        "    return out\n"
    )
    outside = [str(tmp_path / "planted.txt"), "/planted.txt", "/usr/planted.txt"]
    result = await run(pool, code, ["/tmp/ok.txt", *outside])
    assert result.pop("/tmp/ok.txt") == "written"
    assert "written" not in result.values()
    assert not (tmp_path / "planted.txt").exists()


async def test_escape_network_fails() -> None:
    connected = asyncio.Event()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    code = (
        "import socket\n"
        "def main(port):\n"
        "    try:\n"
        "        socket.create_connection(('127.0.0.1', port), timeout=2).close()\n"
        "    except OSError as exc:\n"
        "        return 'blocked: ' + type(exc).__name__\n"
        "    return 'connected'\n"
    )
    async with server, SandboxPool(CONFIG) as pool:
        result = await run(pool, code, port)
    assert result == "blocked: ConnectionRefusedError"  # its own, empty network namespace
    assert not connected.is_set()


async def test_escape_signal_server_fails(pool: SandboxPool) -> None:
    received: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: received.append(signum))
    code = (
        "import os, signal\n"
        "def main(pid):\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGUSR1)\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "    return 'sent'\n"
    )
    try:
        result = await run(pool, code, os.getpid())
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert result == "ProcessLookupError"
    assert received == []
    assert await run(pool, UPPER, "alive") == "ALIVE"


async def test_escape_fork_bomb_is_bounded(pool: SandboxPool) -> None:
    count = (
        "import os, signal\n"
        "def main(limit):\n"
        "    n = 0\n"
        "    try:\n"
        "        for _ in range(limit):\n"
        "            if os.fork() == 0:\n"
        "                signal.pause()\n"
        "            n += 1\n"
        "    except OSError as exc:\n"
        "        return [n, type(exc).__name__]\n"
        "    return [n, None]\n"
    )
    await run(pool, UPPER, "warm")
    forking = org_processes(pool)
    forked, error = await run(pool, count, 500)
    assert error == "BlockingIOError"
    assert forked < PROCESS_LIMIT
    # an interpreter that left processes behind is retired, and they all end with it
    await wait_exited(forking, timeout_s=10)
    bomb = "import os\ndef main(input):\n    while True:\n        os.fork()\n"
    await run(pool, UPPER, "warm")
    forking = org_processes(pool)
    with pytest.raises(CodeError, match="BlockingIOError"):
        await run(pool, bomb)
    await wait_exited(forking, timeout_s=10)
    assert await run(pool, UPPER, "survived") == "SURVIVED"


async def test_escape_memory_past_the_limit_fails(pool: SandboxPool) -> None:
    code = f"def main(input):\n    return len(bytearray({2 * MEMORY_LIMIT_MB} * 1024 * 1024))\n"
    with pytest.raises(CodeError, match="MemoryError"):
        await run(pool, code)
    assert await run(pool, UPPER, "after") == "AFTER"


async def test_escape_endless_loop_is_killed_by_the_node_timeout(pool: SandboxPool) -> None:
    await run(pool, UPPER, "warm")
    looping = org_processes(pool)
    with pytest.raises(NodeTimeout):
        await run(pool, "def main(input):\n    while True:\n        pass\n", timeout_s=0.5)
    await wait_exited(looping, timeout_s=10)
    assert await run(pool, UPPER, "next") == "NEXT"


async def test_escape_runs_as_an_unprivileged_uid(pool: SandboxPool) -> None:
    code = (
        "import os\n"
        "def main(input):\n"
        "    return [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()]\n"
    )
    assert await run(pool, code) == [65534, 65534, 65534, []]
    # as the host sees it: a root server's user code really is uid 65534; a server that is
    # not root cannot give it another uid, so there it is the server's, mapped in its own
    # user namespace
    user_code = {pid for pid in org_processes(pool) if status_field(pid, "Name") != "bwrap"}
    real_uids = {status_field(pid, "Uid").split()[0] for pid in user_code}
    assert real_uids == {"65534" if os.getuid() == 0 else str(os.getuid())}


async def test_escape_privilege_escalation_fails(pool: SandboxPool) -> None:
    code = (
        "import ctypes, os\n"
        "def main(input):\n"
        "    out = {}\n"
        "    try:\n"
        "        os.setuid(0)\n"
        "        out['setuid'] = 'root'\n"
        "    except OSError as exc:\n"
        "        out['setuid'] = str(exc)\n"
        "    os.makedirs('/tmp/mnt', exist_ok=True)\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    rc = libc.mount(b'none', b'/tmp/mnt', b'tmpfs', 0, None)\n"
        "    out['mount'] = os.strerror(ctypes.get_errno()) if rc else 'mounted'\n"
        "    status = dict(line.split(':\\t', 1) for line in open('/proc/self/status')\n"
        "                  if ':\\t' in line)\n"
        "    out['caps'] = status['CapEff'].strip()\n"
        "    out['no_new_privs'] = status['NoNewPrivs'].strip()\n"
        "    return out\n"
    )
    result = await run(pool, code)
    assert result == {
        "setuid": "[Errno 22] Invalid argument",  # uid 0 does not exist in its namespace
        "mount": "Operation not permitted",
        "caps": "0000000000000000",
        "no_new_privs": "1",
    }


@pytest.mark.skipif(
    os.getuid() != 0,
    reason="a server that is not root cannot give user code another uid than bwrap's init",
)
async def test_escape_ptrace_another_process_fails(pool: SandboxPool) -> None:
    # the only other process it can name is its parent, bwrap's namespace init (pid 1)
    code = (
        "import ctypes, os\n"
        "PTRACE_ATTACH = 16\n"
        "def main(input):\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    rc = libc.ptrace(PTRACE_ATTACH, os.getppid(), None, None)\n"
        "    return [os.getppid(), os.strerror(ctypes.get_errno()) if rc else 'attached']\n"
    )
    assert await run(pool, code) == [1, "Operation not permitted"]


async def test_escape_read_system_secrets_fails(pool: SandboxPool) -> None:
    paths = ["/etc/shadow", "/etc/passwd", "/root/.bashrc", "/var/lib/postgresql"]
    assert await run(pool, OPEN_EACH, paths) == dict.fromkeys(paths, "FileNotFoundError")
