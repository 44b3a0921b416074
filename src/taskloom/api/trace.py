"""A task's trace with each node run's input and output.

The store keeps each node run's output (its checkpoint) but not its input. The input is
derived from the walk, the way the runner passes data on (engine/attempt.py): a turn's first
node gets the turn's text; a later step gets what the step before it left (its last completed
iteration's output, or, past a failure it carried on from, that step's own input); iteration
i > 0 gets iteration i - 1's output; a parallel branch (`"3.1"`) gets its parallel node's
input. Each derived input says where it came from in `input_source`; one that cannot be
derived from what is stored is null with `input_source: "unknown"`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from taskloom.engine.wire import node_run_json
from taskloom.store.records import NodeRunRecord, NodeRunStatus

UNKNOWN = "unknown"
_Key = tuple[int, str, int]  # turn, step, iteration


class _Walk:
    def __init__(self, runs: Sequence[NodeRunRecord], texts: Mapping[int, str]) -> None:
        self._texts = texts
        self._outputs: dict[_Key, Any] = {}
        self._last_iteration: dict[tuple[int, str], int] = {}
        for run in runs:
            if run.status == NodeRunStatus.COMPLETED:
                self._outputs[(run.turn, run.step, run.iteration)] = run.output
            place = (run.turn, run.step)
            self._last_iteration[place] = max(self._last_iteration.get(place, 0), run.iteration)

    def input_of(self, turn: int, step: str, iteration: int, depth: int = 0) -> tuple[Any, str]:
        if depth > 64:  # a walk is never this deep; stored rows may still be odd
            return None, UNKNOWN
        if iteration > 0:
            before = (turn, step, iteration - 1)
            if before in self._outputs:
                return self._outputs[before], "previous_iteration"
            return None, UNKNOWN
        parent, dot, _ = step.rpartition(".")
        if dot:
            data, source = self.input_of(turn, parent, 0, depth + 1)
            return data, source if source == UNKNOWN else "parallel_parent"
        number = int(step) if step.isdigit() else 0
        if number == 1:
            text = self._texts.get(turn)
            return (text, "turn_input") if text is not None else (None, UNKNOWN)
        if number < 1:
            return None, UNKNOWN
        return self._after(turn, str(number - 1), depth + 1)

    def _after(self, turn: int, step: str, depth: int) -> tuple[Any, str]:
        last = self._last_iteration.get((turn, step))
        if last is None:
            return None, UNKNOWN
        if (turn, step, last) in self._outputs:
            return self._outputs[(turn, step, last)], "previous_node"
        # the step failed and the walk carried on with that step's input (a stop strategy)
        data, source = self.input_of(turn, step, last, depth + 1)
        return data, source if source == UNKNOWN else "previous_node"


def trace_json(
    runs: Sequence[NodeRunRecord],
    texts: Mapping[int, str],
    sub_tasks: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every node run of the task, in the order they finished, with `input`, `input_source`
    and `output` (null for a run that failed), and `sub_task_id` for a node that ran its
    agent as a sub-task (`sub_tasks`: node id -> sub-task id)."""
    walk = _Walk(runs, texts)
    sub_tasks = sub_tasks or {}
    body = []
    for run in runs:
        data, source = walk.input_of(run.turn, run.step, run.iteration)
        completed = run.status == NodeRunStatus.COMPLETED
        body.append(
            {
                **node_run_json(run),
                "input": data,
                "input_source": source,
                "output": run.output if completed else None,
                "sub_task_id": sub_tasks.get(run.node_id),
            }
        )
    return body
