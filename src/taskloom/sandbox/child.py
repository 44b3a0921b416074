"""The in-sandbox loop: reads run frames, executes user `main(input)`, writes result frames.

Stdlib only and never imports taskloom: the parent passes this file's source with `-c`, so it
runs inside a sandbox that cannot see the taskloom package. Framing is duplicated from
`protocol.py` (4-byte big-endian length + UTF-8 JSON) for the same reason.

argv[1] is a JSON object of limits: memory_limit_mb, cpu_limit_s, output_limit_bytes,
nofile, fsize_bytes, nproc (0: leave as is) and pid_namespace (true when the interpreter has
a PID namespace of its own, shared only with bwrap's init).
"""

from __future__ import annotations

import builtins
import json
import math
import os
import re
import resource
import struct
import sys
import time

# `typing` and `types` are not imported at run time: ~0.7 MiB resident in every interpreter,
# for annotations only (checkers treat any name TYPE_CHECKING as true)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType
    from typing import Any

_HEADER = struct.Struct(">I")
_CODE_CACHE_MAX = 256

_ = (math, re)  # warmed up once per interpreter, so user code importing them is free
# bound now: user code patching `time` must not change how long its runs seem to take
_clock = time.perf_counter


class _Sink:
    """Stands in for sys.stdout/sys.stderr: user prints must never reach the protocol pipe."""

    encoding = "utf-8"
    errors = "replace"

    def write(self, text: str) -> int:
        # Dropped, not buffered: a chatty main() must cost no memory.
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


def _set_limits(limits: dict[str, int]) -> None:
    # soft == hard so user code cannot raise them back.
    mem = limits["memory_limit_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = limits["cpu_limit_s"]
    # SIGXCPU at the soft limit, SIGKILL one second later if it is caught.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["nofile"], limits["nofile"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fsize_bytes"], limits["fsize_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits["nproc"]:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"], limits["nproc"]))


def _left_processes_behind(me: int, pid_namespace: bool) -> bool:
    """Whether user code left processes running (or unreaped) after its run returned."""
    if pid_namespace:
        # pid 1 is bwrap's init; anything else but us was started by user code
        return any(entry.isdigit() and int(entry) not in (1, me) for entry in os.listdir("/proc"))
    try:
        with open(f"/proc/{me}/task/{me}/children", encoding="ascii") as f:
            return bool(f.read().split())
    except OSError:
        return False


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks: list[bytes] = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _write_frame(fd: int, payload: bytes) -> None:
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:  # a user exception's __str__ may itself raise
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _run(
    cache: dict[str, CodeType], code: str, input_value: Any, limit: int
) -> tuple[bytes | None, str | None, bool]:
    """Returns (result_json, error, recycle); recycle asks the parent to retire us."""
    compiled = cache.get(code)
    if compiled is None:
        try:
            compiled = compile(code, "<code>", "exec")
        except (SyntaxError, ValueError) as exc:
            return None, _describe(exc), False
        if len(cache) >= _CODE_CACHE_MAX:
            cache.clear()
        cache[code] = compiled
    scope: dict[str, Any] = {"__name__": "__sandbox__", "__builtins__": builtins}
    try:
        exec(compiled, scope)
        main = scope.get("main")
        if not callable(main):
            return None, "code must define main(input)", False
        result = main(input_value)
    except MemoryError:
        return None, "MemoryError: memory limit exceeded", True
    except (SystemExit, KeyboardInterrupt, GeneratorExit) as exc:
        return None, _describe(exc), True
    except BaseException as exc:
        return None, _describe(exc), False
    try:
        encoded = json.dumps(result, allow_nan=False, ensure_ascii=False).encode()
    except MemoryError:
        return None, "MemoryError: memory limit exceeded", True
    except Exception as exc:
        return None, f"result is not JSON: {_describe(exc)}", False
    if len(encoded) > limit:
        return None, f"output too large: {len(encoded)} bytes > {limit} bytes", False
    return encoded, None, False


def main() -> None:
    limits: dict[str, int] = json.loads(sys.argv[1])
    # Keep private copies of the protocol pipes, then point fds 0-2 at /dev/null so neither
    # print() nor C-level writes by user code can corrupt the frame stream.
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdin = None
    sys.stdout = _Sink()
    sys.stderr = _Sink()
    _set_limits(limits)
    limit = limits["output_limit_bytes"]
    me = os.getpid()
    cache: dict[str, CodeType] = {}
    _write_frame(proto_out, b'{"ready":true}')
    while True:
        header = _read_exact(proto_in, _HEADER.size)
        if header is None:
            return
        (size,) = _HEADER.unpack(header)
        body = _read_exact(proto_in, size)
        if body is None:
            return
        request = json.loads(body)
        # a batch ({"runs": [...]}) is answered run by run; a lone run is a batch of one
        for run in request.get("runs") or (request,):
            if not _answer(proto_out, cache, run, limit, me, bool(limits["pid_namespace"])):
                break  # retire me: the parent sends what is left of the batch elsewhere


def _answer(
    proto_out: int, cache: dict[str, CodeType], run: Any, limit: int, me: int, pid_ns: bool
) -> bool:
    """Run one request and write its reply; False when this interpreter must be retired."""
    # User code may have replaced them on its previous run.
    sys.stdout = _Sink()
    sys.stderr = _Sink()
    started = _clock()
    result, error, recycle = _run(cache, run["code"], run["input"], limit)
    took_ms = (_clock() - started) * 1000
    if os.getpid() != me:
        # a process user code forked, back from main(): it must not answer too
        os._exit(0)
    if _left_processes_behind(me, pid_ns):
        # they would outlive the run: retiring the interpreter ends them all with it
        recycle = True
    run_id = int(run["id"])
    if error is None:
        assert result is not None
        retire = b',"recycle":true' if recycle else b""
        payload = b'{"id":%d,"ok":true,"ms":%.3f,"result":%s%s}' % (run_id, took_ms, result, retire)
    else:
        payload = json.dumps(
            {"id": run_id, "ok": False, "ms": took_ms, "error": error[:4096], "recycle": recycle}
        ).encode()
    _write_frame(proto_out, payload)
    return not recycle


if __name__ == "__main__":
    main()
