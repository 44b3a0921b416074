"""The wait node: pauses the task until a person decides (`hitl`) or a callback arrives
(`webhook`), or its deadline passes.

The first run finds no decision and asks for a pause; the task then holds no worker and no
lease. Once a decision is stored, the task is queued again, the attempt walks back to this
node (every node before it is a checkpoint) and this time the node returns the decision.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from taskloom import errors
from taskloom.llm.prompts import as_text
from taskloom.nodes.base import JSON, NodeContext, NodeResult

DEFAULT_BODY = "This workflow is waiting for your approval. It continues on its own once approved."
MAX_WAIT_S = 365 * 24 * 3600.0


class Notification(BaseModel):
    """The xpander-sdk's NotificationDetails: where to tell someone that the task waits."""

    model_config = ConfigDict(extra="allow", frozen=True)

    subject: str | None = None
    body: str | None = None
    approve_button_text: str = "Approve"
    deny_button_text: str = "Deny"
    # who to tell when the wait starts (with approve / deny links for a `hitl` wait): a
    # webhook, email recipients, Slack channels (posted with the bot token in `credentials`)
    url: str | None = Field(default=None, max_length=2048)
    headers: dict[str, str] = Field(default_factory=dict)
    to: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    credentials: dict[str, Any] | str | None = Field(default=None, repr=False)


class WaitConfig(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: Literal["hitl", "webhook"] = "hitl"
    definition: Notification = Field(default_factory=Notification)
    # how long to wait for a decision (none: for ever), and what the deadline decides
    timeout_seconds: float | None = Field(default=None, gt=0, le=MAX_WAIT_S)
    on_timeout: Literal["reject", "approve", "error"] = "reject"


class WaitNode:
    type_name: ClassVar[str] = "wait"
    config_model: ClassVar[type[BaseModel]] = WaitConfig

    async def run(self, ctx: NodeContext, config: WaitConfig, data: JSON) -> NodeResult:
        waits = ctx.services.waits
        if waits is None:
            raise errors.NodeFailed("this process is not set up to pause tasks")
        decision = await waits.decision(task_id=ctx.task_id, key=ctx.idempotency_key)
        if decision is None:
            raise errors.PauseRequested(
                key=ctx.idempotency_key,
                node_id=ctx.node_id,
                kind=config.type,
                request=hitl_request(ctx, config, data),
                timeout_s=config.timeout_seconds,
                on_timeout=config.on_timeout,
                notify=notify_target(config),
            )
        return NodeResult(output=decision_output(config, decision))


def notify_target(config: WaitConfig) -> dict[str, Any] | None:
    """Who to tell that the wait started, and the texts of the message."""
    details = config.definition
    if details.url is None and not details.to and not details.channels:
        return None
    return details.model_dump(exclude_none=True)


def hitl_request(ctx: NodeContext, config: WaitConfig, data: JSON) -> dict[str, Any]:
    """What the task shows while it waits: which node, and what is to be decided on."""
    return {
        "wait_node_id": ctx.node_id,
        "type": config.type,
        "title": config.definition.subject or ctx.node_name,
        "description": config.definition.body or DEFAULT_BODY,
        "content": as_text(data),
    }


def decision_output(config: WaitConfig, decision: dict[str, Any]) -> JSON:
    """The node's output: the callback's body for a webhook wait, else the decision, so
    edge conditions route on `approved`."""
    if decision.get("timed_out") and config.on_timeout == "error":
        failure = errors.NodeFailed(f"no decision within {config.timeout_seconds:g} s")
        failure.reason = "wait_timeout"
        raise failure
    if config.type == "webhook" and not decision.get("timed_out"):
        return decision.get("body")
    return {key: decision.get(key) for key in ("approved", "decided_by", "comment", "decided_at")}
