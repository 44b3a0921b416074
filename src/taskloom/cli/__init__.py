"""The `taskloom` command: the server's commands, and a client of its API (docs/cli.md).

Commands parse, resolve the connection and call in: the server's through `Settings`
(`server.py`, `keys.py`), the API's through `taskloom.client` and nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from taskloom import errors
from taskloom.cli import backup, definitions, demo, invoke, keys, profiles, server, tasks
from taskloom.cli.connection import ConfigError, ConnectionOptions, default_config_path
from taskloom.cli.output import ExitCode, error_console
from taskloom.client import ApiError, ClientError


class _Root(TyperGroup):
    """Maps the errors a user can act on (the API's, the config file's, the store's for
    `keys`) to a one-line message and exit code 1, for every command."""

    def invoke(self, ctx: Any) -> Any:
        # the command line left for the subcommand: `--json` there asks for a JSON error too
        wants_json = "--json" in [*getattr(ctx, "_protected_args", []), *ctx.args]
        try:
            return super().invoke(ctx)
        except (ClientError, ConfigError, errors.TaskloomError) as exc:
            if wants_json:
                typer.echo(json.dumps({"error": error_json(exc)}), err=True)
            else:
                error_console().print(f"error: {exc}", markup=False)
            raise typer.Exit(ExitCode.API_ERROR) from exc


def error_json(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ApiError):
        return {"status_code": exc.status_code, "detail": exc.detail, "message": str(exc)}
    return {"message": str(exc)}


app = typer.Typer(
    cls=_Root,
    no_args_is_help=True,
    add_completion=False,
    help="taskloom: durable AI-agent workflows",
)


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(envvar="TASKLOOM_URL", help="the server (default: the profile's)"),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="TASKLOOM_API_KEY", help="an API key (tlk_...)")
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(envvar="TASKLOOM_PROFILE", help="a profile of the config file"),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            envvar="TASKLOOM_CONFIG", help="the config file (~/.config/taskloom/config.toml)"
        ),
    ] = None,
) -> None:
    ctx.obj = ConnectionOptions(
        url=url, api_key=api_key, profile=profile, config_path=config or default_config_path()
    )


app.command()(server.serve)
app.command()(server.worker)
app.command()(server.migrate)
app.command()(backup.backup)
app.command("demo-model")(demo.demo_model)
app.command("invoke")(invoke.invoke)
app.add_typer(definitions.definitions_app("workflow"), name="workflows")
app.add_typer(definitions.definitions_app("agent"), name="agents")
app.add_typer(tasks.app, name="tasks")
app.add_typer(keys.app, name="keys")
app.add_typer(profiles.app, name="profile")


def main() -> None:
    app()
