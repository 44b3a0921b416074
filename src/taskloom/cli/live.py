"""The live view of a run: events in, a Rich renderable out. No I/O of its own.

`RunView.apply` folds each event (docs/events.md) into the view's state; `__rich__` draws it:
one row per node run with its state, duration and tokens, sub-tasks nested under the agent
node that started them, the agent's answer as it streams, and the result once the task ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from taskloom.client import Event, NodeRun, Task, TaskStatus

_STYLES = {
    "completed": "green",
    "running": "yellow",
    "executing": "yellow",
    "pending": "dim",
    "error": "red",
    "failed": "red",
    "stopped": "magenta",
}


@dataclass
class NodeRow:
    step: str
    name: str
    type: str
    state: str = "running"
    duration_s: float | None = None
    tokens: str = "-"
    error: str | None = None
    tools: list[str] = field(default_factory=list)
    sub_tasks: dict[str, str] = field(default_factory=dict)  # child task id -> status


@dataclass
class RunView:
    task_id: str
    status: str = "pending"
    nodes: dict[str, NodeRow] = field(default_factory=dict)  # by step, in order of start
    answer: str = ""
    final: Task | None = None

    def apply(self, event: Event) -> None:
        kind = event.type
        if kind in ("task_created", "task_updated", "task_finished"):
            task = event.task()
            if task is not None and task.id == self.task_id:
                self.status = task.status.value
                if kind == "task_finished":
                    self.final = task
        elif kind in ("node_started", "node_finished"):
            run = event.node_run()
            if run is not None:
                self._node(run, finished=kind == "node_finished")
        elif kind == "chunk" and isinstance(event.data, str):
            self.answer += event.data
        elif kind == "tool_call_request" and isinstance(event.data, dict):
            row = self._running()
            if row is not None:
                row.tools.append(str(event.data.get("tool_name", "?")))
        elif kind in ("sub_task_created", "sub_task_finished"):
            child = event.task()
            if child is not None:
                row = self._owner_of(child.id) or self._running()
                if row is not None:
                    row.sub_tasks[child.id] = child.status.value

    def _node(self, run: NodeRun, *, finished: bool) -> None:
        step = run.step or run.node_id
        row = self.nodes.get(step)
        if row is None:
            name = run.node_name or run.node_id
            row = self.nodes[step] = NodeRow(step=step, name=name, type=run.node_type or "?")
        if finished:
            row.state = run.status or "completed"
            row.duration_s = run.duration_s
            row.tokens = run.tokens.text if run.tokens is not None else "-"
            row.error = run.error

    def _running(self) -> NodeRow | None:
        running = [row for row in self.nodes.values() if row.state == "running"]
        return running[-1] if running else None

    def _owner_of(self, child_id: str) -> NodeRow | None:
        return next((row for row in self.nodes.values() if child_id in row.sub_tasks), None)

    def __rich__(self) -> RenderableType:
        parts: list[RenderableType] = [self._header()]
        if self.nodes:
            parts.append(self._table())
        if self.answer and self.final is None:
            parts.append(Panel(Text(self.answer), title="answer", title_align="left"))
        if self.final is not None:
            parts.append(result_panel(self.final))
        return Group(*parts)

    def _header(self) -> Text:
        text = Text("task ")
        text.append(self.task_id, style="bold")
        text.append("  ")
        text.append(self.status, style=_STYLES.get(self.status, ""))
        return text

    def _table(self) -> Table:
        table = Table(box=None, pad_edge=False, show_edge=False)
        for column in ("step", "node", "type", "state", "duration", "tokens"):
            table.add_column(
                column, justify="right" if column in ("duration", "tokens") else "left"
            )
        for row in self.nodes.values():
            state = Text(row.state, style=_STYLES.get(row.state, ""))
            duration = "-" if row.duration_s is None else f"{row.duration_s:.2f}s"
            tokens = row.tokens
            name = row.name + (f"  [{', '.join(row.tools)}]" if row.tools else "")
            # names come from definitions and tools: text, never Rich markup
            table.add_row(Text(row.step), Text(name), Text(row.type), state, duration, tokens)
            for child_id, status in row.sub_tasks.items():
                child = Text(status, style=_STYLES.get(status, ""))
                table.add_row("", Text(f"  └ sub-task {child_id}"), "", child, "", "")
            if row.error:
                table.add_row("", Text(f"  {row.error}", style="red"), "", "", "", "")
        return table


def result_panel(task: Task) -> Panel:
    """A finished task: its status, reason, tokens and result."""
    title = Text(task.status.value, style=_STYLES.get(task.status.value, ""))
    if task.status_reason:
        title.append(f" ({task.status_reason})")
    if task.started_at is not None and task.finished_at is not None:
        title.append(f"  in {(task.finished_at - task.started_at).total_seconds():.2f}s")
    if task.tokens.text != "-":
        title.append(f"  {task.tokens.text} tokens")
    body = task.result if task.result is not None else (task.status_message or "")
    if task.status is not TaskStatus.COMPLETED and task.status_message and task.result:
        body = f"{task.status_message}\n{task.result}"
    return Panel(Text(body), title=title, title_align="left")
