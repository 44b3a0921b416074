"""Following a task to its end: the live view on a terminal, event lines with `--json`, and
Ctrl-C that asks whether to stop the task. Shared by `invoke` and `tasks watch`."""

from __future__ import annotations

import typer
from rich.live import Live

from taskloom.cli.live import RunView
from taskloom.cli.output import ExitCode, console, error_console, exit_code_for, print_json
from taskloom.client import Client, Task


def follow(
    client: Client, task_id: str, *, from_turn: int | None, after: int = 0, as_json: bool
) -> ExitCode:
    """Show the task's events until it ends; the exit code follows its final status."""
    try:
        final = (
            _json_lines(client, task_id, from_turn, after)
            if as_json
            else _live(client, task_id, from_turn, after)
        )
    except KeyboardInterrupt:
        return interrupted(client, task_id, as_json=as_json)
    return exit_code_for(final.status)


def _live(client: Client, task_id: str, from_turn: int | None, after: int) -> Task:
    view = RunView(task_id)
    out = console()
    with Live(view, console=out, refresh_per_second=8, transient=False) as live:
        for event in client.events(task_id, after=after, from_turn=from_turn):
            view.apply(event)
            live.refresh()
    if not out.is_terminal:
        out.line()  # Live leaves its last frame without an end of line off a terminal
    return view.final if view.final is not None else client.get_task(task_id)


def _json_lines(client: Client, task_id: str, from_turn: int | None, after: int) -> Task:
    final: Task | None = None
    for event in client.events(task_id, after=after, from_turn=from_turn):
        print_json(event.model_dump(mode="json", exclude_none=True), lines=True)
        if event.type == "task_finished":
            final = event.task()
    return final if final is not None else client.get_task(task_id)


def interrupted(client: Client, task_id: str, *, as_json: bool) -> ExitCode:
    """Ctrl-C while waiting for a task: ask whether to stop it; the exit code says which."""
    err = error_console()
    if typer.confirm(f"\nstop task {task_id}?", default=False, err=True):
        stopped = client.stop_task(task_id)
        if as_json:
            print_json(stopped)
        else:
            err.print(f"task {task_id} {stopped.status.value}")
        return exit_code_for(stopped.status)
    err.print(f"task {task_id} left running; follow it again with: taskloom tasks watch {task_id}")
    return ExitCode.INTERRUPTED
