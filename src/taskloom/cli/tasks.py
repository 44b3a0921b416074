"""`taskloom tasks`: list, read, follow, stop and delete tasks, and read their threads."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from taskloom.cli.connection import ConnectionOptions
from taskloom.cli.invoke import resolve_target
from taskloom.cli.live import result_panel
from taskloom.cli.output import (
    ExitCode,
    JsonFlag,
    console,
    exit_code_for,
    print_json,
    when,
)
from taskloom.cli.watching import follow, interrupted
from taskloom.client import Client, NotFound, Task, TaskStatus

app = typer.Typer(no_args_is_help=True, help="List, read, follow and stop tasks.")

TaskId = Annotated[str, typer.Argument(help="the task id")]


def _options(ctx: typer.Context) -> ConnectionOptions:
    options: ConnectionOptions = ctx.find_root().obj
    return options


@app.command("ls")
def list_tasks(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Option("--target", help="only tasks of this workflow or agent (id or name)"),
    ] = None,
    status: Annotated[TaskStatus | None, typer.Option(help="only tasks in this status")] = None,
    parent: Annotated[str | None, typer.Option(help="only sub-tasks of this task")] = None,
    user: Annotated[str | None, typer.Option(help="only tasks of this input.user.id")] = None,
    internal_status: Annotated[str | None, typer.Option(help="only this internal_status")] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=50)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """List tasks, newest first."""
    with _options(ctx).client() as client:
        found = client.list_tasks(
            page=page,
            per_page=per_page,
            agent_id=None if target is None else _target_id(client, target),
            status=status.value if status else None,
            parent_task_id=parent,
            user_id=user,
            internal_status=internal_status,
        )
    if as_json:
        print_json(found)
        return
    table = Table(box=None, pad_edge=False)
    for column in ("id", "target", "status", "created", "title / result"):
        table.add_column(column, overflow="fold" if column == "id" else "ellipsis")
    for task in found.items:
        summary = task.title or (task.result or "").replace("\n", " ")
        table.add_row(
            task.id, task.agent_id, task.status.value, when(task.created_at), summary[:60]
        )
    out = console()
    out.print(table)
    out.print(
        f"page {found.page} of {max(found.total_pages, 1)} ({found.total} tasks)", style="dim"
    )


def _target_id(client: Client, target: str) -> str:
    """A name resolved to its id; an id of a deleted workflow still filters its tasks."""
    try:
        return resolve_target(client, target)[1].id
    except NotFound:
        return target


@app.command("get")
def get_task(ctx: typer.Context, task_id: TaskId, as_json: JsonFlag = False) -> None:
    """Show a task: its status, node runs and result."""
    with _options(ctx).client() as client:
        task = client.get_task(task_id)
    if as_json:
        print_json(task)
        return
    show_task(task)


def show_task(task: Task) -> None:
    out = console()
    out.print(Text.assemble(("task ", ""), (task.id, "bold"), f"  turn {task.turn}"))
    out.print(f"target {task.agent_id}   created {when(task.created_at)}", style="dim")
    if task.node_runs:
        table = Table(box=None, pad_edge=False)
        for column in ("step", "node", "type", "status", "duration", "tokens"):
            table.add_column(column)
        for run in task.node_runs:
            duration = "-" if run.duration_s is None else f"{run.duration_s:.2f}s"
            tokens = run.tokens.text if run.tokens else "-"
            name = run.node_name or run.node_id
            table.add_row(run.step or "", name, run.node_type, run.status, duration, tokens)
        out.print(table)
    for child in task.sub_executions:
        out.print(f"  sub-task {child}")
    out.print(result_panel(task))


@app.command("watch")
def watch(
    ctx: typer.Context,
    task_id: TaskId,
    after: Annotated[
        int, typer.Option(help="resume after this event id (Last-Event-ID)", min=0)
    ] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Follow a task's latest turn live until it ends; exits by its status."""
    with _options(ctx).client() as client:
        turn = None if after else client.get_task(task_id).turn
        code = follow(client, task_id, from_turn=turn, after=after, as_json=as_json)
    raise typer.Exit(code)


@app.command("wait")
def wait(
    ctx: typer.Context,
    task_id: TaskId,
    timeout: Annotated[float | None, typer.Option(help="give up after this many seconds")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Wait (long poll) until the task ends or pauses; exits by its status."""
    with _options(ctx).client() as client:
        try:
            task = client.wait(task_id, timeout_s=timeout)
        except KeyboardInterrupt:
            raise typer.Exit(interrupted(client, task_id, as_json=as_json)) from None
    if as_json:
        print_json(task)
    else:
        console().print(result_panel(task))
    raise typer.Exit(exit_code_for(task.status))


@app.command("stop")
def stop(ctx: typer.Context, task_id: TaskId, as_json: JsonFlag = False) -> None:
    """Stop a task (a finished task is left as it is)."""
    with _options(ctx).client() as client:
        task = client.stop_task(task_id)
    if as_json:
        print_json(task)
    else:
        console().print(f"task {task.id} {task.status.value}")


Comment = Annotated[str | None, typer.Option(help="why; kept with the decision")]
DecidedBy = Annotated[str | None, typer.Option("--by", help="who decides (e.g. an e-mail)")]


def _show_decided(task: Task, verb: str, as_json: bool) -> None:
    if as_json:
        print_json(task)
    else:
        console().print(f"task {task.id} {verb}: now {task.status.value}")


@app.command("approve")
def approve(
    ctx: typer.Context,
    task_id: TaskId,
    comment: Comment = None,
    by: DecidedBy = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve a paused task's wait: it runs on from its wait node."""
    with _options(ctx).client() as client:
        task = client.approve_task(task_id, comment=comment, decided_by=by)
    _show_decided(task, "approved", as_json)


@app.command("reject")
def reject(
    ctx: typer.Context,
    task_id: TaskId,
    comment: Comment = None,
    by: DecidedBy = None,
    as_json: JsonFlag = False,
) -> None:
    """Reject a paused task's wait: it takes the route made for a rejection, or ends `error`."""
    with _options(ctx).client() as client:
        task = client.reject_task(task_id, comment=comment, decided_by=by)
    _show_decided(task, "rejected", as_json)


@app.command("resume")
def resume(
    ctx: typer.Context,
    task_id: TaskId,
    body: Annotated[str, typer.Option("--body", help="JSON handed to the webhook wait")] = "{}",
    as_json: JsonFlag = False,
) -> None:
    """Resume a task waiting on a webhook, with a JSON body as the wait node's output."""
    try:
        parsed = json.loads(body)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--body is not JSON: {exc.msg}") from exc
    with _options(ctx).client() as client:
        task = client.resume_task(task_id, parsed)
    _show_decided(task, "resumed", as_json)


@app.command("rm")
def delete(ctx: typer.Context, task_id: TaskId, as_json: JsonFlag = False) -> None:
    """Delete a task and its history (a running task is stopped first)."""
    with _options(ctx).client() as client:
        client.delete_task(task_id)
    if as_json:
        print_json({"id": task_id, "deleted": True})
    else:
        console().print(f"task {task_id} deleted")


@app.command("events")
def events(
    ctx: typer.Context,
    task_id: TaskId,
    after: Annotated[int, typer.Option(help="only events after this id", min=0)] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Print a task's events, live until the task ends (resumes itself if the connection drops)."""
    out = console()
    with _options(ctx).client() as client:
        for event in client.events(task_id, after=after):
            if as_json:
                print_json(event.model_dump(mode="json", exclude_none=True), lines=True)
                continue
            out.print(
                f"{event.id or '-':>4}  {when(event.time)}  {event.type:<18} {_gist(event.data)}"
            )


def _gist(data: object) -> str:
    if isinstance(data, str):
        return repr(data)[:80]
    if isinstance(data, dict):
        if "status" in data and "id" in data:
            return f"{data.get('status')}"
        keys = ("node_id", "status", "tool_name", "error")
        return " ".join(f"{k}={data[k]}" for k in keys if data.get(k) is not None)
    return ""


@app.command("thread")
def thread(ctx: typer.Context, task_id: TaskId, as_json: JsonFlag = False) -> None:
    """Print the conversation of a task: each turn's input and answer."""
    with _options(ctx).client() as client:
        messages = client.thread(task_id)
    if as_json:
        print_json(messages)
        return
    out = console()
    for message in messages:
        out.print(Text.assemble((f"{message.role}: ", "bold"), str(message.content)))


__all__ = ["ExitCode", "app", "show_task"]
