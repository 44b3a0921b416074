"""The Dockerfile and compose.yaml, checked without Docker (no daemon where CI runs): the
runtime stage runs as an unprivileged user, every file it copies exists, and compose runs
PostgreSQL, one API and two workers that share it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def stages() -> list[list[str]]:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    found: list[list[str]] = []
    for line in lines:
        if line.startswith("FROM "):
            found.append([])
        found[-1].append(line)
    return found


def test_dockerfile_runtime_stage_is_slim_and_unprivileged() -> None:
    *build, runtime = stages()
    assert len(build) >= 1  # multi-stage: the build tools stay behind
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")
    assert not any("gcc" in line or "npm" in line for line in runtime)
    assert any("bubblewrap" in line for line in runtime)  # code nodes are isolated inside


def test_dockerfile_copies_only_files_that_exist_and_installs_the_lock() -> None:
    text = (ROOT / "Dockerfile").read_text()
    sources = [
        path
        for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.M)
        for path in copied.split()
    ]
    assert "requirements.lock" in sources
    for path in sources:
        assert (ROOT / path).exists(), path
    assert "--require-hashes" in text
    assert "requirements.lock" in text


def test_compose_runs_postgresql_one_api_and_two_workers() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "api", "worker"}
    assert services["api"]["command"] == ["serve"]
    assert services["api"]["environment"]["TASKLOOM_EMBEDDED_WORKERS"] == "false"
    assert services["worker"]["command"] == ["worker"]
    assert services["worker"]["deploy"]["replicas"] == 2
    urls = {services[name]["environment"]["TASKLOOM_DATABASE_URL"] for name in ("api", "worker")}
    assert len(urls) == 1
    assert urls.pop().startswith("postgresql://")
    for name in ("api", "worker"):
        assert "seccomp=unconfined" in services[name]["security_opt"]  # bubblewrap's namespaces
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
