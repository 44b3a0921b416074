"""An agent node's tool approvals: which tools wait for a person, where a run that waited goes
on from, and the pause that asks.

Every approval of one node run is a wait keyed under the run's own key (`.../approval/<model
turn>`), so the last decided one is where the run picks up, however many it asked for.
"""

from __future__ import annotations

import json

from taskloom import errors
from taskloom.agents.definition import HitlOptions
from taskloom.llm.approvals import ApprovalRequired, Resume, ToolApprovals
from taskloom.nodes.base import NodeContext


def approvals_of(options: HitlOptions | None) -> ToolApprovals | None:
    if options is None or not options.enabled or not options.tool_names:
        return None
    return ToolApprovals(frozenset(options.tool_names), options.on_deny)


def _prefix(ctx: NodeContext) -> str:
    return f"{ctx.idempotency_key}/approval/"


async def resume_point(ctx: NodeContext) -> Resume | None:
    """Where this node run goes on from: its last decided approval, if it waited for one."""
    waits = ctx.services.waits
    if waits is None:
        raise errors.NodeFailed("this process is not set up to wait for tool approvals")
    decided = await waits.resumed(task_id=ctx.task_id, key_prefix=_prefix(ctx))
    if decided is None:
        return None
    decision = decided.decision
    return Resume(
        state=decided.state,
        approved=bool(decision.get("approved")),
        decided_by=decision.get("decided_by"),
        comment=decision.get("comment"),
        request_id=decided.key,
    )


def pause_for(ctx: NodeContext, asked: ApprovalRequired) -> errors.PauseRequested:
    """The task waits for a person to approve (or deny) the calls the model asked for."""
    names = ", ".join(dict.fromkeys(str(call["tool_name"]) for call in asked.calls))
    return errors.PauseRequested(
        key=f"{_prefix(ctx)}{asked.turn}",
        node_id=ctx.node_id,
        kind="hitl",
        request={
            "wait_node_id": ctx.node_id,
            "type": "tool_approval",
            "title": f"Allow {names}?",
            "description": f"The agent {ctx.node_name!r} asks to call {names}.",
            "content": json.dumps(asked.calls, ensure_ascii=False),
            "tool_calls": asked.calls,
        },
        timeout_s=None,
        on_timeout="reject",
        state=asked.state,
    )
