"""`taskloom keys ...` on the server's database, `taskloom profile ...` in a config file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
from typer.testing import CliRunner

from taskloom.cli import app
from tests.cli.conftest import Run, Server, json_of, ok


def test_keys_create_prints_the_org_id_and_the_key(server: Server) -> None:
    runner = CliRunner()
    plain = ok(
        runner.invoke(
            app, ["keys", "create", "--org", "k-org", "--database-url", server.database_url]
        )
    )
    org_line, key = plain.stdout.splitlines()[-2:]
    assert org_line.startswith("organization_id: ")
    assert key.startswith("tlk_")
    made = json_of(
        runner.invoke(
            app,
            ["keys", "create", "--org", "k-org", "--database-url", server.database_url, "--json"],
        )
    )
    assert made["organization_id"] == org_line.removeprefix("organization_id: ")
    assert made["key"].startswith(made["prefix"])
    assert (
        httpx.get(f"{server.base}/v1/tasks", headers={"x-api-key": made["key"]}).status_code == 200
    )


def test_keys_ls_revoke_rotate(server: Server) -> None:
    runner = CliRunner()
    db = ["--database-url", server.database_url]

    def keys(*args: str, code: int = 0) -> str:
        return ok(runner.invoke(app, ["keys", *args, *db]), code).stdout

    made = json.loads(keys("create", "--org", "rotating", "--json"))
    listed = json.loads(keys("ls", "--org", "rotating", "--json"))
    assert [(k["prefix"], k["organization_id"]) for k in listed] == [
        (made["prefix"], made["organization_id"])
    ]
    assert made["key"] not in keys("ls")  # never the key itself
    assert made["prefix"] in keys("ls")

    rotated = json.loads(keys("rotate", made["prefix"], "--json"))
    assert rotated["organization_id"] == made["organization_id"]
    assert rotated["revoked_key_id"] == listed[0]["id"]
    # the old key was never used on the server, so no cache can still hold it
    old = httpx.get(f"{server.base}/v1/tasks", headers={"x-api-key": made["key"]})
    assert old.status_code == 401
    new = httpx.get(f"{server.base}/v1/tasks", headers={"x-api-key": rotated["key"]})
    assert new.status_code == 200

    revoked = json.loads(keys("revoke", rotated["key"], "--json"))
    assert revoked["revoked"] is True
    assert json.loads(keys("ls", "--org", "rotating", "--json")) == []
    assert "no API key" in ok(runner.invoke(app, ["keys", "revoke", "tlk_nope", *db]), 1).output


def test_profiles_hold_the_connection(cli: Run, server: Server, tmp_path: Path) -> None:
    no_env = {"TASKLOOM_URL": None, "TASKLOOM_API_KEY": None}
    ok(
        cli(
            "profile",
            "add",
            "dead",
            "--url",
            "http://127.0.0.1:9",
            "--api-key",
            "tlk_x",
            env=no_env,
        )
    )
    ok(cli("profile", "add", "test", "--url", server.base, "--api-key", server.key, env=no_env))
    config = tmp_path / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    profiles = json_of(cli("profile", "ls", "--json", env=no_env))
    assert [(p["name"], p["current"]) for p in profiles] == [("dead", True), ("test", False)]
    assert server.key not in ok(cli("profile", "ls", env=no_env)).stdout

    assert "error:" in ok(cli("workflows", "ls", env=no_env), 1).stderr  # `dead` is current
    assert ok(cli("--profile", "test", "workflows", "ls", "--json", env=no_env)).exit_code == 0
    ok(cli("profile", "use", "test", env=no_env))
    assert ok(cli("workflows", "ls", "--json", env=no_env)).exit_code == 0
    # flags and the environment win over the profile
    assert ok(cli("--url", "http://127.0.0.1:9", "workflows", "ls", env=no_env), 1).exit_code == 1
    ok(cli("profile", "rm", "test", env=no_env))
    assert "no profile 'test'" in ok(cli("--profile", "test", "tasks", "ls", env=no_env), 1).stderr
