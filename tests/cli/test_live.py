"""The live view's rendering from a scripted event sequence, recorded by a Rich console."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from taskloom.cli.live import RunView
from taskloom.client import Event


def task(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": "t1", "agent_id": "a", "organization_id": "o", "status": status, **extra}


def node(step: str, name: str, type_: str, **extra: Any) -> dict[str, Any]:
    return {"node_id": name, "node_name": name, "node_type": type_, "step": step, **extra}


def render(view: RunView) -> str:
    console = Console(record=True, width=120, force_terminal=False)
    console.print(view)
    return console.export_text()


def test_view_streams_the_answer_then_shows_the_result() -> None:
    view = RunView("t1")
    events = [
        ("task_created", task("pending")),
        ("task_updated", task("executing")),
        ("node_started", node("1", "helper", "agent")),
        ("tool_call_request", {"tool_name": "weather"}),
        ("chunk", "It is "),
        ("chunk", "sunny."),
    ]
    for seq, (type_, data) in enumerate(events, 1):
        view.apply(Event(id=seq, type=type_, data=data))
    running = render(view)
    assert "executing" in running
    assert "helper  [weather]" in running
    assert "running" in running
    assert "It is sunny." in running

    finished_run = node(
        "1",
        "helper",
        "agent",
        status="completed",
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:00:01.5Z",
        tokens={"total_tokens": 30},
    )
    view.apply(Event(id=7, type="node_finished", data=finished_run))
    done = task(
        "completed",
        result="It is sunny.",
        tokens={"total_tokens": 30},
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:00:02Z",
    )
    view.apply(Event(id=8, type="task_finished", data=done))
    final = render(view)
    row = next(line for line in final.splitlines() if "helper" in line)
    assert row.split()[-3:] == ["completed", "1.50s", "30"]
    assert "completed  in 2.00s  30 tokens" in final
    assert final.count("It is sunny.") == 1  # the streamed answer gives way to the result


def test_view_shows_why_a_task_failed() -> None:
    view = RunView("t1")
    failed_run = node("1", "boom", "code", status="failed", error="ValueError: no good")
    view.apply(Event(id=1, type="node_finished", data=failed_run))
    reason = {"status_reason": "node_error", "status_message": "boom failed"}
    view.apply(Event(id=2, type="task_finished", data=task("error", **reason)))
    text = render(view)
    assert "ValueError: no good" in text
    assert "error (node_error)" in text
    assert "boom failed" in text
