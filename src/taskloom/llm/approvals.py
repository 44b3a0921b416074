"""Tool approvals: tools a person must allow before the agent may call them.

When the model asks for a gated tool, the loop stops before running any call of that
response and raises `ApprovalRequired` with everything it needs to go on later (the
conversation so far, its counters). The engine pauses the task on it; once a person decides,
the node runs again with a `Resume`: the loop picks up from the saved state, runs the calls
(a denied one answers the model "denied by <who>: <comment>") and talks on.

    NodeFailed (taskloom.errors)
    └── ToolDenied     a gated call was denied and the agent's `on_deny` is `stop`
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from taskloom.errors import NodeFailed, TaskloomError


@dataclass(frozen=True, slots=True)
class ToolApprovals:
    """An agent's `hitl_options`: which tools wait for a person, and what a denial does."""

    tool_names: frozenset[str]
    on_deny: Literal["continue", "stop"] = "continue"


@dataclass(frozen=True, slots=True)
class Resume:
    """A decided approval: the saved run, and what the person said."""

    state: dict[str, Any]
    approved: bool
    decided_by: str | None
    comment: str | None
    request_id: str  # the approval's id, carried by the calls' `tool_call_result` events

    def denial(self) -> str:
        said = f"denied by {self.decided_by or 'someone'}"
        return f"{said}: {self.comment}" if self.comment else said


class ApprovalRequired(TaskloomError):
    """The model asked for gated tools: the run stops here until a person decides."""

    def __init__(self, *, turn: int, calls: list[dict[str, Any]], state: dict[str, Any]) -> None:
        names = ", ".join(sorted({str(call["tool_name"]) for call in calls}))
        super().__init__(f"the agent asks to call {names}, which needs an approval")
        self.turn = turn  # the model turn whose calls wait: part of the approval's key
        self.calls = calls  # {tool_name, tool_call_id, payload} of each call of that turn
        self.state = state


class ToolDenied(NodeFailed):
    """A person denied a tool call and the agent is set to stop on a denial."""

    reason = "tool_denied"
