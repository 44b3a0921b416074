"""`taskloom invoke TARGET`: run a turn of a workflow or an agent and show how it goes."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from taskloom.cli.connection import ConnectionOptions
from taskloom.cli.definitions import Definition, Definitions
from taskloom.cli.live import result_panel
from taskloom.cli.output import JsonFlag, console, exit_code_for, print_json
from taskloom.cli.watching import follow, interrupted
from taskloom.client import Client, Kind, NotFound, Version


def resolve_target(client: Client, target: str) -> tuple[Kind, Definition]:
    """`workflow:REF`, `agent:REF`, or a bare REF tried as a workflow, then as an agent;
    REF is an id or a name."""
    kind, _, ref = target.partition(":")
    if ref and kind in ("workflow", "agent"):
        chosen: Kind = "workflow" if kind == "workflow" else "agent"
        return chosen, Definitions.of(client, chosen).find(ref)
    try:
        return "workflow", Definitions.of(client, "workflow").find(target)
    except NotFound:
        pass
    try:
        return "agent", Definitions.of(client, "agent").find(target)
    except NotFound:
        raise NotFound(404, f"no workflow or agent with id or name {target!r}") from None


def parse_version(value: str | None) -> Version:
    if value is None:
        return None
    if value == "draft":
        return "draft"
    if not value.isdigit() or int(value) < 1:
        raise typer.BadParameter("--version is a version number or `draft`")
    return int(value)


def parse_input(text: str | None, raw: str | None) -> dict[str, Any]:
    if (text is None) == (raw is None):
        raise typer.BadParameter("give exactly one of --text and --input")
    if raw is None:
        return {"text": text}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise typer.BadParameter(f"--input is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise typer.BadParameter('--input is the invoke\'s `input` object, e.g. {"text": "hi"}')
    return value


def invoke(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="workflow or agent: id or name, or workflow:REF / agent:REF")
    ],
    text: Annotated[str | None, typer.Option("--text", "-t", help="the input text")] = None,
    input_json: Annotated[
        str | None, typer.Option("--input", help="the whole input object as JSON")
    ] = None,
    version: Annotated[str | None, typer.Option(help="a deployed version number, or draft")] = None,
    task: Annotated[
        str | None, typer.Option("--task", help="continue this task's conversation")
    ] = None,
    run_async: Annotated[
        bool, typer.Option("--async", help="print the accepted task and return at once")
    ] = False,
    follow_run: Annotated[
        bool, typer.Option("--follow", "-f", help="show the run live as it goes")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option(help="stop waiting after this many seconds (exit 6)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Invoke a workflow or an agent. Waits for the end and exits by the task's status
    (0 completed, 3 error, 4 failed, 5 stopped, 6 not finished), unless --async."""
    if run_async and follow_run:
        raise typer.BadParameter("--async returns at once; --follow waits: pick one")
    body = parse_input(text, input_json)
    pinned = parse_version(version)
    options: ConnectionOptions = ctx.find_root().obj
    with options.client() as client:
        kind, found = resolve_target(client, target)
        accepted = client.submit(found.id, kind=kind, input=body, version=pinned, task_id=task)
        if run_async:
            if as_json:
                print_json(accepted)
            else:
                console().print(f"task {accepted.id} {accepted.status.value}")
            return
        if follow_run:
            code = follow(client, accepted.id, from_turn=accepted.turn, as_json=as_json)
            raise typer.Exit(code)
        try:
            done = client.wait(accepted.id, timeout_s=timeout)
        except KeyboardInterrupt:
            raise typer.Exit(interrupted(client, accepted.id, as_json=as_json)) from None
    if as_json:
        print_json(done)
    else:
        console().print(result_panel(done))
    raise typer.Exit(exit_code_for(done.status))
