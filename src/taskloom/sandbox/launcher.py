"""Chooses how user code runs (bubblewrap, plain subprocess or refused) and builds its command.

Under bubblewrap user code gets its own user, PID, network, IPC and UTS namespaces, a read-only
view of the system directories only, a private /tmp, an empty environment and an unprivileged
uid. bwrap maps that uid to its caller's real uid, which for a root server means root outside
the sandbox (owner of every root file, exempt from RLIMIT_NPROC). So as root, bwrap only builds
the namespaces and mounts; `setpriv` then drops to the sandbox uid for good and `unshare` puts
it in a user namespace of its own, where RLIMIT_NPROC counts this interpreter's processes only.
A server that is not root cannot change its uid: bwrap's own user namespace maps the sandbox
uid to the server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from taskloom.config import SandboxConfig
from taskloom.errors import SandboxUnavailable

log = logging.getLogger(__name__)


class SandboxMode(StrEnum):
    """How the pool runs user code, once it has looked at the machine."""

    BWRAP = "bwrap"  # in bubblewrap, as an unprivileged uid, without network
    SUBPROCESS = "subprocess"  # plain subprocesses of the server's user: NOT isolated
    REFUSED = "refused"  # code nodes end `error` with reason `sandbox_unavailable`


NOFILE_LIMIT = 64
FSIZE_LIMIT_BYTES = 16 * 1024 * 1024
TMPFS_BYTES = 16 * 1024 * 1024
PROBE_TIMEOUT_S = 10.0
# Only what the interpreter and libc need; never `/`, so the server's files stay invisible.
_SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
_SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
INSTALL_HINT = "install bubblewrap (apt-get install bubblewrap)"


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything needed to exec one interpreter in the chosen mode."""

    mode: SandboxMode
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    # Plain subprocesses get their own group so a kill also reaches anything user code forked;
    # under bwrap the pid namespace does that.
    own_process_group: bool


@dataclass(frozen=True, slots=True)
class Refusal:
    """Code nodes are refused on this server; `message` says why and what to do."""

    message: str


def python_executable() -> str:
    # Resolve venv/pyenv shims: the shim needs things (e.g. /dev/null, PATH) the sandbox lacks.
    return os.path.realpath(sys.executable)


@cache
def child_source() -> str:
    # Passed with -c so the sandbox never needs to see the taskloom package.
    return Path(__file__).with_name("child.py").read_text(encoding="utf-8")


def _limits_arg(config: SandboxConfig, mode: SandboxMode) -> str:
    isolated = mode == SandboxMode.BWRAP
    return json.dumps(
        {
            "memory_limit_mb": config.memory_limit_mb,
            "cpu_limit_s": config.cpu_limit_s,
            "output_limit_bytes": config.output_limit_bytes,
            "nofile": NOFILE_LIMIT,
            "fsize_bytes": FSIZE_LIMIT_BYTES,
            # RLIMIT_NPROC counts per uid (and user namespace): only under bwrap is that uid
            # the interpreter's alone; a plain subprocess shares the server's
            "nproc": config.process_limit if isolated else 0,
            "pid_namespace": isolated,
        }
    )


def _python_argv(config: SandboxConfig, mode: SandboxMode, source: str) -> list[str]:
    # -I: ignore PYTHON* env, user site and cwd on sys.path; -S: no site-packages at all.
    return [python_executable(), "-I", "-S", "-c", source, _limits_arg(config, mode)]


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
    # bwrap would create missing parents (/etc here) as 0700, out of the sandbox uid's reach
    args += ["--perms", "0755", "--dir", "/etc"]
    for path in _SYSTEM_FILES:
        args += ["--ro-bind-try", path, path]
    for root in _interpreter_roots():
        # e.g. /root for a pyenv interpreter, made passable for the sandbox uid
        for parent in reversed(Path(root).parents[:-1]):
            args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", root, root]
    return args


def _find(program: str, *fallbacks: str) -> str | None:
    found = shutil.which(program)
    for path in fallbacks:  # PATH may be minimal under a service manager
        if found is None and os.access(path, os.X_OK):
            found = path
    return found


def bwrap_path(config: SandboxConfig) -> str | None:
    if config.bwrap == "bwrap":
        return _find("bwrap", "/usr/bin/bwrap")
    return _find(config.bwrap)


def _namespaces_and_uid(config: SandboxConfig) -> tuple[list[str], list[str]]:
    """bwrap's namespace flags, and the command that drops to the sandbox uid inside it."""
    if os.geteuid() != 0:
        # user, ipc, pid, net, uts, cgroup: bwrap maps the sandbox uid onto ours
        flags = ["--unshare-all", "--unshare-user", "--uid", str(config.uid)]
        return [*flags, "--gid", str(config.gid), "--cap-drop", "ALL"], []
    setpriv = _find("setpriv", "/usr/bin/setpriv") or "setpriv"
    unshare = _find("unshare", "/usr/bin/unshare") or "unshare"
    flags = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    drop = [
        setpriv,
        f"--reuid={config.uid}",
        f"--regid={config.gid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
        unshare,
        "--user",
        f"--map-user={config.uid}",
        f"--map-group={config.gid}",
        "--",
    ]
    return [*flags, "--unshare-cgroup-try"], drop


def bwrap_argv(config: SandboxConfig, python_argv: list[str]) -> list[str]:
    namespaces, drop_uid = _namespaces_and_uid(config)
    return [
        bwrap_path(config) or config.bwrap,
        *namespaces,
        "--die-with-parent",
        "--new-session",
        *_bwrap_mounts(),
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--size",
        str(TMPFS_BYTES),
        "--perms",
        "1777",
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
        *drop_uid,
        *python_argv,
    ]


def build_launch(mode: SandboxMode, config: SandboxConfig) -> Launch:
    python = _python_argv(config, mode, child_source())
    if mode == SandboxMode.BWRAP:
        return Launch(mode, tuple(bwrap_argv(config, python)), {}, "/", False)
    return Launch(mode, tuple(python), dict(_ENV), "/", True)


async def probe_bwrap(config: SandboxConfig) -> str | None:
    """Start a do-nothing interpreter under the real bwrap flags; None if it works, else why."""
    if bwrap_path(config) is None:
        return f"{config.bwrap} is not installed"
    argv = bwrap_argv(config, [python_executable(), "-I", "-S", "-c", "pass"])
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


async def choose_launch(config: SandboxConfig) -> Launch | Refusal:
    """Pick the mode per config.mode, probing bwrap once; loud unless user code is isolated.

    Without a working bwrap, `auto` runs user code unisolated only on a local developer's
    server (loopback and SQLite); any other server refuses code nodes.
    """
    if config.mode == "subprocess":
        log.warning(
            "sandbox mode 'subprocess': user code is NOT isolated from this machine",
            extra={"event": "sandbox_unisolated"},
        )
        return build_launch(SandboxMode.SUBPROCESS, config)
    problem = await probe_bwrap(config)
    if problem is None:
        log.info(
            "sandbox mode 'bwrap': user code runs in bubblewrap, no network",
            extra={"event": "sandbox_isolated"},
        )
        return build_launch(SandboxMode.BWRAP, config)
    if config.mode == "bwrap":
        raise SandboxUnavailable(f"sandbox mode 'bwrap' requested but unusable: {problem}")
    if config.local_dev_server:
        log.warning(
            "bwrap unusable (%s); this local server runs code nodes as plain subprocesses: "
            "user code is NOT isolated from this machine; %s",
            problem,
            INSTALL_HINT,
            extra={"event": "sandbox_unisolated"},
        )
        return build_launch(SandboxMode.SUBPROCESS, config)
    refusal = Refusal(
        f"code nodes are refused: this server has no sandbox to isolate user code "
        f"({problem}); {INSTALL_HINT}, or set TASKLOOM_SANDBOX_MODE=subprocess to run "
        f"it unisolated on purpose"
    )
    log.error(
        "bwrap unusable (%s); code nodes are refused: %s",
        problem,
        INSTALL_HINT,
        extra={"event": "sandbox_refused"},
    )
    return refusal
