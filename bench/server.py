"""A fresh taskloom server per run: a free loopback port, a fresh database, an API key.

The server runs as `taskset -c 0 taskloom serve` in its own session, so it and its sandbox
interpreters can be stopped as one process group, whatever happens in the benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
TASKLOOM = ROOT / ".venv" / "bin" / "taskloom"
HOST = "127.0.0.1"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
SERVER_CORE = 0
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
PROVIDER_KEYS = frozenset({"OPENAI_API_KEY", "ANTHROPIC_API_KEY"})


def require_loopback(url: str) -> None:
    """Only loopback may be a benchmark target."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"refusing non-loopback target {host!r} in {url!r}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Store:
    """A fresh database for one run; `workdir` holds the SQLite file and the server log."""

    backend: str
    url: str
    workdir: Path


@contextlib.asynccontextmanager
async def fresh_store(backend: str, pg_admin_url: str) -> AsyncIterator[Store]:
    """Create an empty database (SQLite file or PostgreSQL database) and remove it after."""
    workdir = Path(tempfile.mkdtemp(prefix="taskloom-bench-"))
    try:
        if backend == "sqlite":
            yield Store(backend, f"sqlite:///{workdir / 'bench.db'}", workdir)
        else:
            async with _pg_database(pg_admin_url) as url:
                yield Store(backend, url, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.asynccontextmanager
async def _pg_database(admin_url: str) -> AsyncIterator[str]:
    require_loopback(admin_url)
    name = f"taskloom_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlsplit(admin_url)._replace(path=f"/{name}").geturl()
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close(timeout=10)


def create_key(database_url: str) -> str:
    """`taskloom keys create` prints the key as the last line of stdout."""
    done = subprocess.run(
        [str(TASKLOOM), "keys", "create", "--org", "bench", "--database-url", database_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"taskloom keys create printed no key; stderr: {done.stderr}")
    return lines[-1].strip()


@dataclass
class Server:
    """A running `taskloom serve`; `pid` is the Python process (taskset execs into it)."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.asynccontextmanager
async def running_server(store: Store, env: Mapping[str, str]) -> AsyncIterator[Server]:
    """Start the server pinned to core 0, wait for /health, and always stop its group."""
    port = free_port()
    log_path = store.workdir / "server.log"
    process = _spawn(store.url, port, log_path, env)
    server = Server(process, f"http://{HOST}:{port}", log_path)
    try:
        await _wait_ready(server)
        yield server
    finally:
        await asyncio.to_thread(stop, server.process)


def _spawn(
    database_url: str, port: int, log_path: Path, env: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    command = ["taskset", "-c", str(SERVER_CORE), str(TASKLOOM), "serve"]
    command += ["--host", HOST, "--port", str(port), "--database-url", database_url]
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**_inherited_env(), "TASKLOOM_LOG_LEVEL": "warning", **env},
            start_new_session=True,  # its own process group, sandboxes included
        )


def _inherited_env() -> dict[str, str]:
    """The driver's environment without model-provider keys: the benchmark's models are fakes
    on loopback and need none, and a real key must never reach the server under test."""
    return {name: value for name, value in os.environ.items() if name not in PROVIDER_KEYS}


async def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    code = server.process.poll()
    state = "still starting" if code is None else f"exited with code {code}"
    last = server.log_tail(1) or "(empty log)"
    raise RuntimeError(f"server not ready after start ({state}); last log line: {last}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL it after a grace period."""
    pgid = process.pid  # start_new_session: the server leads its own group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_S)
