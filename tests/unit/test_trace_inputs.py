"""Deriving node runs' inputs from the stored outputs (api/trace.py), for the cases a real run
rarely shows: iterations, a failure the walk carried on from, a gap in the stored runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from taskloom.api.trace import trace_json
from taskloom.store.records import NodeRunRecord, NodeRunStatus

T = datetime(2026, 12, 5, tzinfo=UTC)


def _run(step: str, output: Any, *, iteration: int = 0, failed: bool = False) -> NodeRunRecord:
    return NodeRunRecord(
        task_id="t",
        turn=1,
        step=step,
        iteration=iteration,
        node_id=f"n{step}",
        node_name=f"n{step}",
        node_type="code",
        status=NodeRunStatus.FAILED if failed else NodeRunStatus.COMPLETED,
        task_attempt=1,
        retries=0,
        output=None if failed else output,
        route=None,
        error="boom" if failed else None,
        started_at=T,
        finished_at=T,
    )


def _inputs(runs: list[NodeRunRecord]) -> list[tuple[Any, str]]:
    return [(r["input"], r["input_source"]) for r in trace_json(runs, {1: "text"})]


def test_iterations_feed_each_other_and_the_last_feeds_the_next_step() -> None:
    runs = [_run("1", "a", iteration=0), _run("1", "ab", iteration=1), _run("2", "done")]
    assert _inputs(runs) == [
        ("text", "turn_input"),
        ("a", "previous_iteration"),
        ("ab", "previous_node"),
    ]


def test_after_a_failure_carried_on_the_next_step_gets_the_failed_steps_input() -> None:
    runs = [_run("1", "a"), _run("2", None, failed=True), _run("3", "c")]
    assert _inputs(runs)[2] == ("a", "previous_node")


def test_a_step_with_no_stored_run_before_it_is_unknown() -> None:
    assert _inputs([_run("3", "c")]) == [(None, "unknown")]
