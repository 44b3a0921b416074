"""Logging set-up for the command line: the only module that installs handlers.

`text` (the default) is for people at a terminal; `json` writes one JSON object a line for
log collectors, with the `extra` fields code attaches (`event`, `task_id`, `organization_id`,
`worker_id`, ...) as top-level keys, so a task's lines can be found by its id.

While a task's attempt runs, the engine holds `task_scope(task_id, organization_id)` open:
every record logged in it (by the engine, a node, the LLM layer, a library) gets both ids,
in the JSON keys and, in the text format, as `[task=… org=…]` before the message.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]

# the task whose attempt runs in this context; copied into the tasks it starts
_TASK: ContextVar[tuple[str, str] | None] = ContextVar("taskloom_log_task", default=None)


@contextlib.contextmanager
def task_scope(task_id: str, organization_id: str) -> Iterator[None]:
    """Records logged inside the block carry `task_id` and `organization_id`."""
    token = _TASK.set((task_id, organization_id))
    try:
        yield
    finally:
        _TASK.reset(token)


class TaskIds(logging.Filter):
    """Puts the running task's ids on a record, unless the code that logged it set its own
    (a sweep logs about another task than the one whose context it may run in)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _TASK.get()
        if scope is not None:
            if not hasattr(record, "task_id"):
                record.task_id = scope[0]
            if not hasattr(record, "organization_id"):
                record.organization_id = scope[1]
        return True


# what every LogRecord has; anything else on a record came from `extra`
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "ids",  # TextLines' own
}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextLines(logging.Formatter):
    """`time level logger [task=… org=…] message`; the brackets only for a task's records."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(ids)s%(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        task, org = getattr(record, "task_id", None), getattr(record, "organization_id", None)
        ids = []
        if task is not None:
            ids.append(f"task={task}")
        if org is not None:
            ids.append(f"org={org}")
        record.ids = f"[{' '.join(ids)}] " if ids else ""
        return super().formatMessage(record)


def handler(fmt: LogFormat = "text", stream: TextIO | None = None) -> logging.Handler:
    """A handler to `stream` (stderr) in the given format that adds the running task's ids."""
    out = logging.StreamHandler(stream)
    out.setFormatter(JsonLines() if fmt == "json" else TextLines())
    out.addFilter(TaskIds())
    return out


def configure(level: str, fmt: LogFormat = "text") -> None:
    logging.basicConfig(level=level.upper(), handlers=[handler(fmt)], force=True)
