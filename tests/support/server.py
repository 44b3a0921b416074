"""`taskloom serve` and `taskloom worker` as real subprocesses on 127.0.0.1 (e2e, crash tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

TASKLOOM = [sys.executable, "-m", "taskloom"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_key(database_url: str, org: str) -> str:
    done = subprocess.run(
        [*TASKLOOM, "keys", "create", "--org", org, "--database-url", database_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Process:
    """A taskloom process we may kill -9; its output goes to a log file for post-mortems."""

    args: Sequence[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> Process:
        log = self.log.open("ab")
        self.popen = subprocess.Popen(  # our own CLI
            [*TASKLOOM, *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no lease release, like a power cut."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP the whole process group: its state holds still while a test looks at it."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGCONT)

    def terminate(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def process_env(database_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLOOM_")}
    env["TASKLOOM_DATABASE_URL"] = database_url
    for name, value in settings.items():
        env[f"TASKLOOM_{name.upper()}"] = value
    return env


def start_server(database_url: str, log: Path, **settings: str) -> tuple[Process, str]:
    port = free_port()
    server = Process(["serve", "--port", str(port)], process_env(database_url, **settings), log)
    server.start()
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, server)
    return server, base


def start_worker(database_url: str, log: Path, **settings: str) -> Process:
    return Process(["worker"], process_env(database_url, **settings), log).start()


def wait_ready(base: str, process: Process, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen is not None and process.popen.poll() is not None:
            raise RuntimeError(f"server exited early; see {process.log}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # noqa: TID251  # a subprocess start-up, polled against a deadline
    raise RuntimeError(f"server not ready within {timeout} s; see {process.log}")
