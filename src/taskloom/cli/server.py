"""`taskloom serve`, `worker` and `migrate`: the server's own commands (Settings from the
flags and $TASKLOOM_*)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from taskloom import logs
from taskloom.config import Settings

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="sqlite:///path.db or postgresql://user@host:port/db "
        "(default: $TASKLOOM_DATABASE_URL, else sqlite:///taskloom.db)",
    ),
]


def settings_for(database_url: str | None, **overrides: object) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if database_url is not None:
        values["database_url"] = database_url
    return Settings(**values)  # type: ignore[arg-type]  # pydantic-settings accepts overrides


def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run the API with embedded workers."""
    import uvicorn

    from taskloom.api.app import create_app

    settings = settings_for(database_url, host=host, port=port)
    logs.configure(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        # JSON lines: uvicorn's own loggers go through the root handler that logs.py set
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        access_log=False,
        loop="auto",
        http="auto",
    )


def worker(
    database_url: DatabaseUrl = None,
    concurrency: Annotated[int | None, typer.Option(help="tasks run at once")] = None,
) -> None:
    """Run workers only, against the same database as the API."""
    settings = settings_for(database_url, worker_concurrency=concurrency)
    logs.configure(settings.log_level, settings.log_format)
    asyncio.run(_run_worker(settings))


async def _run_worker(settings: Settings) -> None:
    from taskloom.engine.host import open_host

    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    async with open_host(settings, run_worker=True) as host:
        port = settings.worker_metrics_port
        if port is None:
            await stopped.wait()
            return
        from taskloom.api.metrics import process_collectors
        from taskloom.api.process_metrics import serve_process_metrics

        async with serve_process_metrics(
            lambda: process_collectors(host.llm_calls, host.sandbox), host=settings.host, port=port
        ):
            await stopped.wait()


def migrate(database_url: DatabaseUrl = None) -> None:
    """Bring the database schema to the latest version."""
    settings = settings_for(database_url)
    asyncio.run(_migrate(settings))
    typer.echo("database is at the latest schema version")


async def _migrate(settings: Settings) -> None:
    from taskloom.store.database import Database
    from taskloom.store.migrate import upgrade

    async with Database(settings.database_url) as db:
        await upgrade(db)
