"""Action node: calls one toolkit operation (`asset_id` = `<toolkit>_<operation>`) with the
previous node's output as its arguments, and passes the answer on.

The arguments are the input itself (an object, spread over the operation's path, query,
header and body parameters; see toolkits/calls.py). Only when the node asks for it
(`fill_arguments_with_llm`) does a model read the input as text and fill them. The call
carries the node run's idempotency key, the same on every re-run of the node, so that the
API can tell a repeat from a new call. A failed call (refused address, timeout, non-2xx)
fails the node: its retry strategy decides what happens next.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from taskloom import errors
from taskloom.llm import Message, ModelChoice, Usage
from taskloom.llm.prompts import as_text, join_sections
from taskloom.nodes.base import JSON, NodeContext, NodeResult
from taskloom.toolkits.calls import BadArguments, arguments_from
from taskloom.toolkits.definition import BoundOperation, arguments_schema


class ActionNodeConfig(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    asset_id: str = Field(
        min_length=3, max_length=255, validation_alias=AliasChoices("asset_id", "operation")
    )
    instructions: str | None = None  # for the model, when it fills the arguments
    fill_arguments_with_llm: bool = False
    settings: ModelChoice = Field(default_factory=ModelChoice)
    ignore_response: bool = False  # pass the node's input on instead of the answer

    @field_validator("asset_id")
    @classmethod
    def _names_an_operation(cls, asset_id: str) -> str:
        if "_" not in asset_id:
            raise ValueError("must be `<toolkit id>_<operation id>`")
        return asset_id


def build_arguments_prompt(config: ActionNodeConfig, bound: BoundOperation) -> str:
    operation = bound.operation
    return join_sections(
        "You work in an automated workflow. Fill the arguments of one API call from the "
        "input: answer with the arguments alone.",
        f"The call: {operation.method} {operation.path}: {operation.description or operation.name}",
        config.instructions or "",
    )


def answer_of(text: str) -> JSON:
    """An answer as the next node gets it: JSON as data, anything else as its text."""
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        return text
    return parsed


class ActionNode:
    type_name: ClassVar[str] = "action"
    config_model: ClassVar[type[BaseModel]] = ActionNodeConfig

    async def run(self, ctx: NodeContext, config: ActionNodeConfig, data: JSON) -> NodeResult:
        services = ctx.services
        catalog, http, llm_config = services.toolkits, services.http, services.llm_config
        if catalog is None or http is None or llm_config is None:
            raise errors.NodeFailed("this process is not set up to call toolkits")
        bound = await catalog.operation(
            organization_id=ctx.organization_id, asset_id=config.asset_id
        )
        usage = None
        if config.fill_arguments_with_llm:
            args, usage = await self._filled(ctx, config, bound, data)
        else:
            try:
                args = arguments_from(data, bound.operation)
            except BadArguments as exc:
                raise errors.NodeFailed(f"action {config.asset_id}: {exc}") from exc
        from taskloom.llm.tools.toolkit import OperationTool  # loads httpx2: only when needed

        tool = OperationTool(
            bound,
            http.get(),
            timeout_s=min(llm_config.tool_timeout_s, ctx.timeout_s),
            limit_bytes=llm_config.tool_result_limit_bytes,
        )
        # the stream shows the call as it shows an agent's tool calls
        event: dict[str, Any] = {
            "request_id": str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"taskloom:action:{ctx.idempotency_key}")
            ),
            "operation_id": bound.operation.id,
            "tool_call_id": None,
            "graph_node_id": ctx.node_id,
            "tool_name": bound.asset_id,
            "payload": args,
            "reasoning": {"title": "", "description": ""},
            "plan_task_id": None,
        }
        await ctx.emit("tool_call_request", event)
        result = await tool.call(args, idempotency_key=ctx.idempotency_key)
        await ctx.emit(
            "tool_call_result",
            {
                **event,
                "result": result.text,
                "is_error": result.is_error,
                "approval_request_id": None,
            },
        )
        if result.is_error:
            failed = errors.NodeFailed(f"action {config.asset_id}: {result.text}")
            failed.reason = "action_failed"
            raise failed
        output = data if config.ignore_response else answer_of(result.text)
        return NodeResult(output=output, usage=usage)

    async def _filled(
        self, ctx: NodeContext, config: ActionNodeConfig, bound: BoundOperation, data: JSON
    ) -> tuple[dict[str, Any], Usage]:
        model = await ctx.services.llm.model(config.settings)
        completion = await model.complete(
            [Message("user", as_text(data))],
            system=build_arguments_prompt(config, bound),
            output_schema=arguments_schema(bound.operation),
            idempotency_key=ctx.idempotency_key,
            timeout_s=min(ctx.services.llm.request_timeout_s, ctx.timeout_s),
        )
        return dict(completion.data or {}), completion.usage
