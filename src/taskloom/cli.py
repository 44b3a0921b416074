"""The `taskloom` command: parse, build Settings, call in. No logic of its own."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from taskloom import logs
from taskloom.config import Settings

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="taskloom: durable AI-agent workflows"
)
keys_app = typer.Typer(no_args_is_help=True, help="Manage API keys.")
app.add_typer(keys_app, name="keys")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="sqlite:///path.db or postgresql://user@host:port/db "
        "(default: $TASKLOOM_DATABASE_URL, else sqlite:///taskloom.db)",
    ),
]


def _settings(database_url: str | None, **overrides: object) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if database_url is not None:
        values["database_url"] = database_url
    return Settings(**values)  # type: ignore[arg-type]  # pydantic-settings accepts overrides


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run the API with embedded workers."""
    import uvicorn

    from taskloom.api.app import create_app

    settings = _settings(database_url, host=host, port=port)
    logs.configure(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        loop="auto",
        http="auto",
    )


@app.command()
def worker(
    database_url: DatabaseUrl = None,
    concurrency: Annotated[int | None, typer.Option(help="tasks run at once")] = None,
) -> None:
    """Run workers only, against the same database as the API."""
    settings = _settings(database_url, worker_concurrency=concurrency)
    logs.configure(settings.log_level)
    asyncio.run(_run_worker(settings))


async def _run_worker(settings: Settings) -> None:
    from taskloom.engine.host import open_host

    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    async with open_host(settings, run_worker=True):
        await stopped.wait()


@app.command()
def migrate(database_url: DatabaseUrl = None) -> None:
    """Bring the database schema to the latest version."""
    settings = _settings(database_url)
    asyncio.run(_migrate(settings))
    typer.echo("database is at the latest schema version")


async def _migrate(settings: Settings) -> None:
    from taskloom.store.database import Database
    from taskloom.store.migrate import upgrade

    async with Database(settings.database_url) as db:
        await upgrade(db)


@keys_app.command("create")
def keys_create(
    org: Annotated[str, typer.Option("--org", help="organization name (created if new)")],
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key; it is printed once, as the last line, and stored hashed."""
    settings = _settings(database_url)
    org_id, key = asyncio.run(_create_key(settings, org))
    typer.echo(f"organization {org} ({org_id})", err=True)
    typer.echo(key)


async def _create_key(settings: Settings, org: str) -> tuple[str, str]:
    from taskloom.clock import utcnow
    from taskloom.store import keys as key_store
    from taskloom.store.database import Database
    from taskloom.store.migrate import upgrade

    async with Database(settings.database_url) as db:
        await upgrade(db)
        async with db.write() as conn:
            org_id = await key_store.ensure_organization(conn, name=org, now=utcnow())
            key = await key_store.create_api_key(conn, organization_id=org_id, now=utcnow())
    return org_id, key


def main() -> None:
    app()
