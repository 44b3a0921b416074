"""`taskloom keys`: API keys, straight in the database (`--database-url`), not over HTTP.

A key is shown once, when it is made (`create`, `rotate`), as the last line on stdout; with
`--json` as one object that also holds the organization id the xpander-sdk needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from taskloom.cli.output import JsonFlag, console, error_console, print_json, when
from taskloom.cli.server import DatabaseUrl, settings_for
from taskloom.config import Settings

if TYPE_CHECKING:
    from taskloom.store.database import Connection
    from taskloom.store.key_admin import ApiKeyRecord

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, help="Manage API keys (in the database directly).")

KeyRef = Annotated[
    str, typer.Argument(help="the key's id, its prefix (from `keys ls`), or the key")
]


def _run(settings: Settings, job: Callable[[Connection], Awaitable[T]]) -> T:
    """Open the database (schema brought up to date), run `job(conn)` in one write."""
    from taskloom.store.database import Database
    from taskloom.store.migrate import upgrade

    async def run() -> T:
        async with Database(settings.database_url) as db:
            await upgrade(db)
            async with db.write() as conn:
                return await job(conn)

    return asyncio.run(run())


def _show_new_key(org: str, org_id: str, key: str, *, as_json: bool, replaced: str | None) -> None:
    if as_json:
        body = {"organization": org, "organization_id": org_id, "key": key, "prefix": key[:10]}
        if replaced is not None:
            body["revoked_key_id"] = replaced
        print_json(body)
        return
    error_console().print(f"organization {org} ({org_id}); the key is shown once, below")
    typer.echo(f"organization_id: {org_id}")
    typer.echo(key)


@app.command("create")
def create(
    org: Annotated[str, typer.Option("--org", help="organization name (created if new)")],
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key. Prints `organization_id: <id>`, then the key as the last line."""
    from taskloom.clock import utcnow
    from taskloom.store import keys as key_store

    async def job(conn: Connection) -> tuple[str, str]:
        org_id = await key_store.ensure_organization(conn, name=org, now=utcnow())
        return org_id, await key_store.create_api_key(conn, organization_id=org_id, now=utcnow())

    org_id, key = _run(settings_for(database_url), job)
    _show_new_key(org, org_id, key, as_json=as_json, replaced=None)


@app.command("ls")
def list_(
    org: Annotated[str | None, typer.Option("--org", help="only this organization's")] = None,
    database_url: DatabaseUrl = None,
    as_json: JsonFlag = False,
) -> None:
    """List keys by prefix, with their organization, creation and last use (to a minute)."""
    from taskloom.store import key_admin

    async def job(conn: Connection) -> list[ApiKeyRecord]:
        return await key_admin.list_api_keys(conn, organization_name=org)

    found = _run(settings_for(database_url), job)
    if as_json:
        print_json(
            [
                {
                    "id": k.id,
                    "prefix": k.prefix,
                    "organization": k.organization_name,
                    "organization_id": k.organization_id,
                    "created_at": k.created_at.isoformat(),
                    "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                }
                for k in found
            ]
        )
        return
    table = Table(box=None, pad_edge=False)
    for column in ("id", "prefix", "organization", "organization id", "created", "last used"):
        table.add_column(column, overflow="fold")
    for k in found:
        used = when(k.last_used_at) if k.last_used_at else "never"
        table.add_row(
            k.id, k.prefix + "…", k.organization_name, k.organization_id, when(k.created_at), used
        )
    console().print(table)


@app.command("revoke")
def revoke(key: KeyRef, database_url: DatabaseUrl = None, as_json: JsonFlag = False) -> None:
    """Revoke a key: it stops working at once (within `key_cache_s` on a running server)."""
    from taskloom.store import key_admin

    async def job(conn: Connection) -> ApiKeyRecord:
        found = await key_admin.find_api_key(conn, ref=key)
        await key_admin.delete_api_key(conn, key_id=found.id)
        return found

    revoked = _run(settings_for(database_url), job)
    if as_json:
        print_json({"id": revoked.id, "prefix": revoked.prefix, "revoked": True})
    else:
        console().print(
            f"key {revoked.prefix}… ({revoked.id}) of {revoked.organization_name} revoked"
        )


@app.command("rotate")
def rotate(key: KeyRef, database_url: DatabaseUrl = None, as_json: JsonFlag = False) -> None:
    """Replace a key: a new key for the same organization, the old one revoked, in one step."""
    from taskloom.clock import utcnow
    from taskloom.store import key_admin
    from taskloom.store import keys as key_store

    async def job(conn: Connection) -> tuple[ApiKeyRecord, str]:
        old = await key_admin.find_api_key(conn, ref=key)
        new = await key_store.create_api_key(
            conn, organization_id=old.organization_id, now=utcnow()
        )
        await key_admin.delete_api_key(conn, key_id=old.id)
        return old, new

    old, new = _run(settings_for(database_url), job)
    _show_new_key(old.organization_name, old.organization_id, new, as_json=as_json, replaced=old.id)
