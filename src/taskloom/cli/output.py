"""How commands answer: Rich for people, `--json` for scripts, and exit codes by task status."""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console

from taskloom.client import TaskStatus

JsonFlag = Annotated[
    bool, typer.Option("--json", help="print JSON (one object, or one event per line)")
]


class ExitCode(IntEnum):
    """What `taskloom` exits with. A command that follows a task to its end exits by the
    task's status; see docs/cli.md."""

    OK = 0  # done; a followed task `completed`
    API_ERROR = 1  # the server refused the request, or could not be reached
    USAGE = 2  # a bad command line (Click's own code)
    TASK_ERROR = 3  # the task ended `error`
    TASK_FAILED = 4  # the task ended `failed`
    TASK_STOPPED = 5  # the task ended `stopped`
    NOT_FINISHED = 6  # stopped waiting before the task ended (`--timeout`, or paused)
    INTERRUPTED = 130  # Ctrl-C, the task left running


_BY_STATUS = {
    TaskStatus.COMPLETED: ExitCode.OK,
    TaskStatus.ERROR: ExitCode.TASK_ERROR,
    TaskStatus.FAILED: ExitCode.TASK_FAILED,
    TaskStatus.STOPPED: ExitCode.TASK_STOPPED,
}


def exit_code_for(status: TaskStatus) -> ExitCode:
    return _BY_STATUS.get(status, ExitCode.NOT_FINISHED)


def plain(value: Any) -> Any:
    """JSON-ready data from models, lists of models, dicts of them."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def print_json(value: Any, *, lines: bool = False) -> None:
    """One JSON document on stdout; `lines` for one compact object per line (streams)."""
    text = json.dumps(plain(value), ensure_ascii=False, indent=None if lines else 2)
    typer.echo(text)


def console() -> Console:
    # built per command: typer's CliRunner swaps sys.stdout, and a console made at import
    # time would keep writing to the old one
    return Console(highlight=False, soft_wrap=False, markup=False)  # names are data, not markup


def error_console() -> Console:
    return Console(stderr=True, highlight=False, markup=False)


def when(value: Any) -> str:
    """A timestamp as a short UTC string, or '-'."""
    if value is None:
        return "-"
    return str(value.strftime("%Y-%m-%d %H:%M:%S"))
