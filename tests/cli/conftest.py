"""One real `taskloom serve` on SQLite for the CLI and client tests, and the CLI run in-process
against it through Typer's runner (the same code path as the installed command)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from taskloom.cli import app
from tests.support.fake_llm import FakeLLM
from tests.support.server import Process, create_key, start_server


@dataclass(frozen=True)
class Server:
    base: str
    key: str
    database_url: str
    model_base: str  # an OpenAI-compatible fake model server agents may name


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, fake_llm: FakeLLM) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("cli-server")
    database_url = f"sqlite:///{root / 'taskloom.db'}"
    key = create_key(database_url, "cli-tests")
    process: Process
    process, base = start_server(
        database_url,
        root / "serve.log",
        llm_allowed_api_bases=json.dumps([fake_llm.openai_base_url]),
        poll_s="0.2",
    )
    try:
        yield Server(base, key, database_url, fake_llm.openai_base_url)
    finally:
        process.terminate()


Run = Callable[..., Result]


@pytest.fixture
def cli(server: Server, tmp_path: Path) -> Run:
    """`cli("workflows", "ls")`: the command against the test server, connection by env."""

    def run(*args: str, input: str | None = None, env: dict[str, Any] | None = None) -> Result:
        base_env = {
            "TASKLOOM_URL": server.base,
            "TASKLOOM_API_KEY": server.key,
            "TASKLOOM_CONFIG": str(tmp_path / "config.toml"),
            "TASKLOOM_PROFILE": None,
            "COLUMNS": "200",
        }
        return CliRunner().invoke(app, list(args), input=input, env={**base_env, **(env or {})})

    return run


def ok(result: Result, code: int = 0) -> Result:
    """The result, after checking its exit code (with its output on failure)."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result


def json_of(result: Result) -> Any:
    return json.loads(ok(result).stdout)
