"""`taskloom keys ls` shows when each key was last used."""

from __future__ import annotations

from tests.cli.conftest import Run, Server, json_of, ok


def test_keys_ls_shows_last_use(cli: Run, server: Server) -> None:
    ok(cli("workflows", "ls"))  # the server's key, used over HTTP

    listed = json_of(cli("keys", "ls", "--json", "--database-url", server.database_url))
    mine = next(k for k in listed if k["prefix"] == server.key[:10])
    assert mine["last_used_at"] is not None

    table = ok(cli("keys", "ls", "--database-url", server.database_url)).stdout
    assert "last used" in table
