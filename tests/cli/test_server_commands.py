"""`serve`, `worker` and `migrate` as before the CLI grew: an API-only `taskloom serve` and a
`taskloom worker` subprocess on one SQLite file run a task to its end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from taskloom.cli import app
from taskloom.client import Client, TaskStatus
from tests.cli.conftest import ok
from tests.support.server import Process, create_key, start_server, start_worker
from tests.support.workflows import code_node


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in started:
            process.kill()


def test_migrate_brings_a_fresh_database_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = ok(CliRunner().invoke(app, ["migrate", "--database-url", url]))
    assert "latest schema version" in result.stdout
    helps = ok(CliRunner().invoke(app, ["--help"])).stdout
    for command in ("serve", "worker", "migrate", "keys", "invoke", "workflows", "tasks"):
        assert command in helps


def test_worker_runs_the_tasks_of_an_api_only_server(
    tmp_path: Path, processes: list[Process]
) -> None:
    url = f"sqlite:///{tmp_path / 'taskloom.db'}"
    key = create_key(url, "split")
    server, base = start_server(url, tmp_path / "serve.log", embedded_workers="false", poll_s="0.2")
    processes.append(server)
    processes.append(start_worker(url, tmp_path / "worker.log", poll_s="0.2"))
    with Client(base, key) as client:
        body = {"name": "split", "orchestration_nodes": [code_node("up", "return input.upper()")]}
        workflow = client.deploy_workflow(client.create_workflow(body).id)
        done = client.wait(client.submit(workflow.id, "w").id, timeout_s=60)
    assert (done.status, done.result) == (TaskStatus.COMPLETED, "W")
