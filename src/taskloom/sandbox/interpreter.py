"""One sandboxed interpreter process: started, asked to run code, killed and reaped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from typing import Final

from taskloom.errors import CodeError, NodeTimeout, SandboxUnavailable
from taskloom.sandbox.launcher import Launch, SandboxMode
from taskloom.sandbox.protocol import FrameTooLarge, read_frame

START_TIMEOUT_S: Final = 15.0
EXIT_GRACE_S: Final = 1.0
REAP_GRACE_S: Final = 5.0
HELLO_MAX_BYTES: Final = 1024
# Room for the response envelope and an error message around a result at the output limit.
FRAME_SLACK_BYTES: Final = 65_536


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(child) for child in f.read().split()]
    except (OSError, ValueError):
        return []


class Interpreter:
    """One interpreter process; serves one run at a time and only ever one org.

    The pool owns the bookkeeping (`org`, `runs`); this class owns the process and its pipes.
    """

    __slots__ = ("_launch", "org", "proc", "reader", "runs", "writer")

    def __init__(self, launch: Launch, proc: asyncio.subprocess.Process) -> None:
        if proc.stdin is None or proc.stdout is None:
            raise ValueError("an interpreter needs both protocol pipes")
        self._launch = launch
        self.proc = proc
        self.reader: asyncio.StreamReader = proc.stdout
        self.writer: asyncio.StreamWriter = proc.stdin
        self.org: str | None = None
        self.runs = 0

    @classmethod
    async def spawn(cls, launch: Launch) -> Interpreter:
        """Exec the interpreter; it is not ready until `wait_ready()` returns."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *launch.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env=launch.env,
                cwd=launch.cwd,
                start_new_session=launch.own_process_group,
            )
        except OSError as exc:
            raise SandboxUnavailable(f"cannot start interpreter: {exc}") from exc
        return cls(launch, proc)

    @property
    def pid(self) -> int:
        """The process the pool started (bwrap itself under bubblewrap)."""
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def wait_ready(self) -> None:
        """Wait for the interpreter's hello; SandboxUnavailable if it never says it."""
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                hello = await read_frame(self.reader, HELLO_MAX_BYTES)
        except (TimeoutError, asyncio.IncompleteReadError, FrameTooLarge, ValueError) as exc:
            raise SandboxUnavailable(f"interpreter failed to start: {exc!r}") from None
        if hello != {"ready": True}:
            raise SandboxUnavailable(f"interpreter failed to start: {hello!r}")

    async def exchange(self, frame: bytes, *, timeout_s: float, output_limit_bytes: int) -> object:
        """Send one run frame and read its reply.

        Raises NodeTimeout past timeout_s, CodeError when the reply is too large, malformed or
        never comes because the interpreter died. After any of these it must be killed.
        """
        async with self._failures(timeout_s, output_limit_bytes):
            async with asyncio.timeout(timeout_s):
                self.writer.write(frame)
                await self.writer.drain()
                return await read_frame(self.reader, output_limit_bytes + FRAME_SLACK_BYTES)

    async def send(self, frame: bytes, *, timeout_s: float) -> None:
        """Send a batch frame, whose replies `receive` then reads one by one."""
        async with self._failures(timeout_s, 0):
            async with asyncio.timeout(timeout_s):
                self.writer.write(frame)
                await self.writer.drain()

    async def receive(self, *, timeout_s: float, output_limit_bytes: int) -> object:
        """The next reply; raises as `exchange` does."""
        async with self._failures(timeout_s, output_limit_bytes):
            async with asyncio.timeout(timeout_s):
                return await read_frame(self.reader, output_limit_bytes + FRAME_SLACK_BYTES)

    @contextlib.asynccontextmanager
    async def _failures(self, timeout_s: float, output_limit_bytes: int) -> AsyncIterator[None]:
        try:
            yield
        except TimeoutError:
            raise NodeTimeout(f"code ran past its {timeout_s:g}s limit") from None
        except FrameTooLarge as exc:
            raise CodeError(
                f"output too large: {exc.size} bytes > {output_limit_bytes} bytes"
            ) from None
        except (asyncio.IncompleteReadError, ConnectionError):
            raise CodeError(await self._death_reason()) from None
        except ValueError:
            raise CodeError("sandbox protocol error: malformed reply") from None

    def kill(self) -> None:
        """SIGKILL the interpreter and everything user code started inside it."""
        if not self.alive:
            return
        pid = self.proc.pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self._launch.own_process_group:
                # Reaches anything user code forked, not just the interpreter.
                os.killpg(pid, signal.SIGKILL)
                return
            if self._launch.mode == SandboxMode.BWRAP:
                inner = _children(pid)
                if inner:
                    # Kill bwrap's pid-namespace init, not bwrap itself: the init does not die
                    # with its parent and would linger; its death takes down every process in
                    # the namespace and the outer bwrap then exits on its own.
                    for child in inner:
                        os.kill(child, signal.SIGKILL)
                    return
            self.proc.kill()

    async def reap(self) -> None:
        """Wait for a killed interpreter to exit, closing our ends of its pipes."""
        self.writer.close()
        try:
            async with asyncio.timeout(REAP_GRACE_S):
                await self.proc.wait()
            return
        except TimeoutError:
            pass
        # Process.wait() also waits for the pipes to close, which a process user code forked
        # out of the group could hold forever: kill the launcher and drop our pipe ends.
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        # asyncio offers no public handle on the stdout pipe.
        self.proc._transport.close()  # type: ignore[attr-defined]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(REAP_GRACE_S):
                await self.proc.wait()

    async def _death_reason(self) -> str:
        try:
            async with asyncio.timeout(EXIT_GRACE_S):
                code = await self.proc.wait()
        except TimeoutError:
            return "sandbox interpreter stopped answering (closed its pipe)"
        if code < 0:
            sig = -code
        elif code > 128 and self._launch.mode == SandboxMode.BWRAP:
            sig = code - 128  # bwrap reports a signalled child as 128 + signal
        else:
            return f"sandbox interpreter exited with code {code}"
        if sig == signal.SIGXCPU:
            return "sandbox interpreter killed: CPU time limit exceeded"
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"sandbox interpreter killed by {name} (memory or CPU limit?)"
