"""Builds the command and resource limits that start one sandboxed interpreter; probes bwrap."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from taskloom.config import SandboxConfig
from taskloom.errors import SandboxUnavailable

log = logging.getLogger(__name__)

Mode = Literal["bwrap", "subprocess"]

NOFILE_LIMIT = 64
FSIZE_LIMIT_BYTES = 16 * 1024 * 1024
TMPFS_BYTES = 16 * 1024 * 1024
PROBE_TIMEOUT_S = 10.0
# Only what the interpreter and libc need; never `/`, so the server's files stay invisible.
_SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
_SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything needed to exec one interpreter in the chosen mode."""

    mode: Mode
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    # Plain subprocesses get their own group so a kill also reaches anything user code forked;
    # under bwrap the pid namespace does that.
    own_process_group: bool


def python_executable() -> str:
    # Resolve venv/pyenv shims: the shim needs things (e.g. /dev/null, PATH) the sandbox lacks.
    return os.path.realpath(sys.executable)


@cache
def child_source() -> str:
    # Passed with -c so the sandbox never needs to see the taskloom package.
    return Path(__file__).with_name("child.py").read_text(encoding="utf-8")


def _limits_arg(config: SandboxConfig) -> str:
    return json.dumps(
        {
            "memory_limit_mb": config.memory_limit_mb,
            "cpu_limit_s": config.cpu_limit_s,
            "output_limit_bytes": config.output_limit_bytes,
            "nofile": NOFILE_LIMIT,
            "fsize_bytes": FSIZE_LIMIT_BYTES,
        }
    )


def _python_argv(config: SandboxConfig, source: str) -> list[str]:
    # -I: ignore PYTHON* env, user site and cwd on sys.path; -S: no site-packages at all.
    return [python_executable(), "-I", "-S", "-c", source, _limits_arg(config)]


def _interpreter_roots() -> list[str]:
    exe = Path(python_executable())
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix)}
    roots.add(str(exe.parent.parent))
    covered = ("/usr/",)
    return sorted(r for r in roots if r != "/" and not r.startswith(covered) and r != "/usr")


def _bwrap_mounts() -> list[str]:
    args: list[str] = []
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            # Usrmerge systems: /lib -> usr/lib; recreate the link rather than bind twice.
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in _SYSTEM_FILES:
        args += ["--ro-bind-try", path, path]
    for root in _interpreter_roots():
        args += ["--ro-bind", root, root]
    return args


def bwrap_path() -> str | None:
    found = shutil.which("bwrap")
    if found is None and os.path.exists("/usr/bin/bwrap"):
        found = "/usr/bin/bwrap"  # PATH may be minimal under a service manager
    return found


def bwrap_argv(config: SandboxConfig, source: str) -> list[str]:
    return [
        bwrap_path() or "bwrap",
        "--unshare-all",  # user, ipc, pid, net, uts, cgroup: no network at all
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        *_bwrap_mounts(),
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--size",
        str(TMPFS_BYTES),
        "--tmpfs",
        "/tmp",
        "--remount-ro",
        "/",
        "--clearenv",
        *(arg for key, value in _ENV.items() for arg in ("--setenv", key, value)),
        "--chdir",
        "/tmp",
        "--hostname",
        "sandbox",
        "--",
        *_python_argv(config, source),
    ]


def build_launch(mode: Mode, config: SandboxConfig) -> Launch:
    if mode == "bwrap":
        return Launch(mode, tuple(bwrap_argv(config, child_source())), {}, "/", False)
    return Launch(mode, tuple(_python_argv(config, child_source())), dict(_ENV), "/", True)


async def probe_bwrap(config: SandboxConfig) -> str | None:
    """Start a do-nothing interpreter under the real bwrap flags; None if it works, else why."""
    if bwrap_path() is None:
        return "bwrap is not installed"
    argv = bwrap_argv(config, "pass")
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={},
            cwd="/",
        )
    except OSError as exc:
        return f"cannot exec bwrap: {exc}"
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            _, err = await proc.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return "bwrap probe timed out"
    if proc.returncode != 0:
        return f"bwrap probe exited {proc.returncode}: {err.decode(errors='replace').strip()}"
    return None


async def choose_launch(config: SandboxConfig) -> Launch:
    """Pick the mode per config.mode, probing bwrap once; loud when falling back."""
    if config.mode == "subprocess":
        log.warning("sandbox mode 'subprocess': user code is NOT isolated from this machine")
        return build_launch("subprocess", config)
    problem = await probe_bwrap(config)
    if problem is None:
        log.info("sandbox mode 'bwrap': user code runs in bubblewrap, no network")
        return build_launch("bwrap", config)
    if config.mode == "bwrap":
        raise SandboxUnavailable(f"sandbox mode 'bwrap' requested but unusable: {problem}")
    log.warning(
        "bwrap unusable (%s); falling back to plain subprocesses: "
        "user code is NOT isolated from this machine",
        problem,
    )
    return build_launch("subprocess", config)
