"""`taskloom backup`: a copy of the running server's SQLite store that holds what it had
committed, and a clear refusal for PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.cli.conftest import Run, Server, json_of, ok

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "data-cleanup" / "workflow.yaml"


def test_backup_of_a_running_server_holds_its_finished_tasks(
    cli: Run, server: Server, tmp_path: Path
) -> None:
    ok(cli("workflows", "apply", str(EXAMPLE), "--deploy"))
    task = json_of(cli("invoke", "data-cleanup", "--text", "[]", "--json"))
    destination = tmp_path / "copy.db"
    destination.write_text("an older backup, replaced")

    done = json_of(cli("backup", str(destination), "--database-url", server.database_url, "--json"))

    assert done["destination"] == str(destination)
    assert done["size_bytes"] == destination.stat().st_size
    with sqlite3.connect(destination) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        row = copy.execute("SELECT status FROM tasks WHERE id = ?", (task["id"],)).fetchone()
    assert row == ("completed",)
    assert not list(tmp_path.glob("*.partial"))
    # the copy is a store taskloom opens: its keys are there
    keys = json_of(cli("keys", "ls", "--json", "--database-url", f"sqlite:///{destination}"))
    assert server.key[:10] in {k["prefix"] for k in keys}


def test_backup_refuses_postgresql_and_names_pg_dump(cli: Run, tmp_path: Path) -> None:
    result = cli("backup", str(tmp_path / "x.db"), "--database-url", "postgresql://u@h/db")

    assert result.exit_code == 1
    assert "pg_dump" in result.output
    assert not (tmp_path / "x.db").exists()


def test_backup_of_a_missing_file_is_not_found(cli: Run, tmp_path: Path) -> None:
    result = cli(
        "backup", str(tmp_path / "x.db"), "--database-url", f"sqlite:///{tmp_path}/none.db"
    )
    assert result.exit_code == 1
    assert "no database file" in result.output
