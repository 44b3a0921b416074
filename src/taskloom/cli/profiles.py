"""`taskloom profile`: named servers (URL and API key) in the CLI's config file."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from taskloom.cli.connection import ConfigFile, ConnectionOptions, Profile
from taskloom.cli.output import JsonFlag, console, print_json

app = typer.Typer(no_args_is_help=True, help="Named connections: a server URL and an API key.")


def _config(ctx: typer.Context) -> ConfigFile:
    options: ConnectionOptions = ctx.find_root().obj
    return ConfigFile.load(options.config_path)


def _masked(key: str | None) -> str:
    return "-" if not key else key[:10] + "…"


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the profile's name")],
    url: Annotated[str, typer.Option(help="the server, e.g. http://127.0.0.1:8000")],
    api_key: Annotated[str | None, typer.Option(help="an API key (tlk_...)")] = None,
    use: Annotated[bool, typer.Option(help="make it the current profile")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add or replace a profile. The first one added becomes the current one."""
    config = _config(ctx)
    config.profiles[name] = Profile(url=url, api_key=api_key)
    if use or config.current is None:
        config.current = name
    config.save()
    if as_json:
        print_json({"name": name, "url": url, "current": config.current == name})
    else:
        console().print(f"profile {name} saved in {config.path}")


@app.command("ls")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the profiles; `*` marks the current one. Keys are shown by prefix only."""
    config = _config(ctx)
    if as_json:
        print_json(
            [
                {
                    "name": n,
                    "url": p.url,
                    "api_key_prefix": _masked(p.api_key)[:10] or None,
                    "current": n == config.current,
                }
                for n, p in config.profiles.items()
            ]
        )
        return
    table = Table(box=None, pad_edge=False)
    for column in ("", "name", "url", "key"):
        table.add_column(column)
    for name, profile in config.profiles.items():
        mark = "*" if name == config.current else ""
        table.add_row(mark, name, profile.url, _masked(profile.api_key))
    console().print(table)


@app.command("use")
def use(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the profile to use from now on")],
    as_json: JsonFlag = False,
) -> None:
    """Make a profile the current one."""
    config = _config(ctx)
    config.profile(name)
    config.current = name
    config.save()
    if as_json:
        print_json({"current": name})
    else:
        console().print(f"now using profile {name}")


@app.command("rm")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the profile to remove")],
    as_json: JsonFlag = False,
) -> None:
    """Remove a profile."""
    config = _config(ctx)
    config.profile(name)
    del config.profiles[name]
    if config.current == name:
        config.current = None
    config.save()
    if as_json:
        print_json({"removed": name})
    else:
        console().print(f"profile {name} removed")
