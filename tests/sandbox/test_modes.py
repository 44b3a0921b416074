"""How user code is run: bubblewrap, a local developer's unisolated fallback, or refused.

"bwrap is not usable" is forced through the setting that names the executable, so the real
probe, pool and engine decide, with nothing of taskloom's replaced.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from taskloom.config import SandboxConfig, Settings
from taskloom.errors import SandboxRefused, SandboxUnavailable
from taskloom.sandbox import SandboxMode, SandboxPool
from tests.conftest import DeployWorkflow
from tests.conftest import test_settings as make_settings
from tests.support.waiting import eventually
from tests.support.workflows import code_node

NO_BWRAP = "/nonexistent/bwrap"
UPPER = "def main(input):\n    return input.upper()\n"


async def run(pool: SandboxPool, code: str = UPPER, input: object = "x") -> object:
    return await pool.run(org_id="org-a", code=code, input=input, timeout_s=10)


async def test_auto_mode_uses_bwrap_when_it_works() -> None:
    async with SandboxPool(SandboxConfig(mode="auto", pool_size=1)) as pool:
        assert pool.mode == SandboxMode.BWRAP
        assert await run(pool) == "X"


async def test_auto_mode_without_bwrap_refuses_code_nodes(caplog: pytest.LogCaptureFixture) -> None:
    config = SandboxConfig(mode="auto", bwrap=NO_BWRAP, local_dev_server=False, pool_size=2)
    async with SandboxPool(config) as pool:
        assert pool.mode == SandboxMode.REFUSED
        assert not pool._live  # not one interpreter was started
        with pytest.raises(SandboxRefused, match=r"apt-get install bubblewrap") as refused:
            await run(pool)
    assert refused.value.reason == "sandbox_unavailable"
    assert any(r.levelno == logging.ERROR and "refused" in r.message for r in caplog.records)


async def test_auto_mode_without_bwrap_on_a_local_dev_server_runs_unisolated_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = SandboxConfig(mode="auto", bwrap=NO_BWRAP, local_dev_server=True, pool_size=1)
    async with SandboxPool(config) as pool:
        assert pool.mode == SandboxMode.SUBPROCESS
        assert await run(pool) == "X"
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert any("NOT isolated" in m and "apt-get install bubblewrap" in m for m in warnings)


async def test_subprocess_mode_runs_code_on_any_server_when_set_on_purpose() -> None:
    config = SandboxConfig(mode="subprocess", bwrap=NO_BWRAP, local_dev_server=False, pool_size=1)
    async with SandboxPool(config) as pool:
        assert pool.mode == SandboxMode.SUBPROCESS
        assert await run(pool) == "X"


async def test_bwrap_mode_without_bwrap_does_not_start() -> None:
    with pytest.raises(SandboxUnavailable, match="not installed"):
        async with SandboxPool(SandboxConfig(mode="bwrap", bwrap=NO_BWRAP)):
            pass


@pytest.mark.parametrize(
    ("host", "database_url", "local"),
    [
        ("127.0.0.1", "sqlite:///taskloom.db", True),
        ("localhost", "sqlite:///taskloom.db", True),
        ("::1", "sqlite:///taskloom.db", True),
        ("0.0.0.0", "sqlite:///taskloom.db", False),  # the case under test
        ("192.168.1.5", "sqlite:///taskloom.db", False),
        ("devbox.example", "sqlite:///taskloom.db", False),
        ("127.0.0.1", "postgresql://taskloom@127.0.0.1:5432/taskloom", False),
    ],
)
def test_settings_local_dev_server_is_loopback_and_sqlite(
    host: str, database_url: str, local: bool
) -> None:
    settings = Settings(host=host, database_url=database_url)
    assert settings.sandbox().local_dev_server is local


# -- through the engine: a task with a code node on a server that refuses them ---------------


@pytest.fixture
def settings(database_url: str) -> Settings:
    # SQLite served to the network, or PostgreSQL even on loopback: not a local dev server
    host = "0.0.0.0" if database_url.startswith("sqlite") else "127.0.0.1"
    return make_settings(database_url, host=host, sandbox_bwrap=NO_BWRAP)


async def test_code_node_without_a_sandbox_ends_the_task_in_error__sandbox_unavailable(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(
        {"name": "t", "orchestration_nodes": [code_node("c", "return input")]}
    )
    started = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        json={"input": {"text": "hi"}},
        headers=headers,
    )
    assert started.status_code == 200, started.text
    task_id = started.json()["id"]

    async def finished() -> dict[str, Any] | None:
        task: dict[str, Any] = (await client.get(f"/v1/tasks/{task_id}", headers=headers)).json()
        return task if task["status"] not in ("pending", "executing") else None

    task = await eventually(finished, timeout=20)
    assert task["status"] == "error"
    assert task["status_reason"] == "sandbox_unavailable"
    assert "apt-get install bubblewrap" in task["status_message"]
