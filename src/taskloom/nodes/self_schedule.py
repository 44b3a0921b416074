"""The self_schedule node: the task pauses until a time it names, then continues at another
node (`target_node_id`), up to `max_reschedules` times per turn.

The pause is a wait with a deadline and nobody to decide it: the store's timer resumes the
task (once, across processes, late but never lost after downtime), the attempt walks back to
this node, finds the timer fired and jumps. The walk counts how often it reached this node
before; once that reaches `max_reschedules`, the node passes its input on along its edges.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from taskloom import errors
from taskloom.llm import Message, ModelChoice
from taskloom.llm.prompts import as_text
from taskloom.nodes.base import JSON, NodeContext, NodeResult
from taskloom.nodes.wait import MAX_WAIT_S
from taskloom.nodes.when import parse_when

# the route a rescheduled run takes: the walk jumps to the node's target
RESCHEDULED = "rescheduled"
KIND = "schedule"

_WHEN_PROMPT = (
    "You turn a description of a time into an exact time. The time now is {now} (UTC). "
    "Answer with one ISO-8601 timestamp with its UTC offset (for example "
    "2026-01-31T09:00:00+00:00) or one ISO-8601 duration from now (for example PT15M), "
    "and nothing else."
)


class SelfScheduleConfig(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    when: str = Field(min_length=1, max_length=500)
    target_node_id: str = Field(min_length=1)
    # what the target node receives when the task continues (default: this node's input)
    prompt: str | None = Field(default=None, max_length=100_000)
    max_reschedules: int = Field(default=1, ge=1, le=100)
    # the model that reads a `when` that is neither an ISO-8601 time nor a duration
    settings: ModelChoice = Field(default_factory=ModelChoice)


class SelfScheduleNode:
    type_name: ClassVar[str] = "self_schedule"
    config_model: ClassVar[type[BaseModel]] = SelfScheduleConfig

    async def run(self, ctx: NodeContext, config: SelfScheduleConfig, data: JSON) -> NodeResult:
        if ctx.visits >= config.max_reschedules:
            return NodeResult(output=data)  # rescheduled enough: on along the edges
        waits = ctx.services.waits
        if waits is None:
            raise errors.NodeFailed("this process is not set up to pause tasks")
        fired = await waits.decision(task_id=ctx.task_id, key=ctx.idempotency_key)
        if fired is not None:
            output = config.prompt if config.prompt is not None else data
            return NodeResult(output=output, route=RESCHEDULED)
        now = ctx.now()
        due = await _due(ctx, config, now)
        delay_s = (due - now).total_seconds()
        if delay_s > MAX_WAIT_S:
            raise errors.NodeFailed(f"{config.when!r} is more than a year away")
        raise errors.PauseRequested(
            key=ctx.idempotency_key,
            node_id=ctx.node_id,
            kind=KIND,
            request=_shown(ctx, config, data, due),
            # a time already past fires at the next sweep
            timeout_s=max(delay_s, 0.001),
            on_timeout="approve",
        )


async def _due(ctx: NodeContext, config: SelfScheduleConfig, now: datetime) -> datetime:
    due = parse_when(config.when, now)
    if due is not None:
        return due
    model = await ctx.services.llm.model(config.settings)
    completion = await model.complete(
        [Message("user", config.when)],
        system=_WHEN_PROMPT.format(now=now.isoformat()),
        idempotency_key=f"{ctx.idempotency_key}/when",
        timeout_s=min(ctx.services.llm.request_timeout_s, ctx.timeout_s),
    )
    due = parse_when(completion.text, now)
    if due is None:
        failure = errors.NodeFailed(
            f"could not tell when {config.when!r} is: the model answered {completion.text!r}"
        )
        failure.reason = "bad_schedule"
        raise failure
    return due


def _shown(
    ctx: NodeContext, config: SelfScheduleConfig, data: JSON, due: datetime
) -> dict[str, Any]:
    """What the paused task shows: which node, when it continues and where."""
    return {
        "wait_node_id": ctx.node_id,
        "type": KIND,
        "title": ctx.node_name,
        "description": f"continues at node {config.target_node_id!r} at {due.isoformat()}",
        "content": config.prompt if config.prompt is not None else as_text(data),
        "target_node_id": config.target_node_id,
        "reschedule": ctx.visits + 1,
        "max_reschedules": config.max_reschedules,
    }
