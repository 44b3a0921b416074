"""Agent node: an LLM that calls tools until it has an answer.

Two uses, one node type. An agent task is a graph of one agent node that carries the whole
agent definition inline (`agent`). In a workflow, an agent node points at a deployed agent
(`asset_id`) and runs it as a sub-task with its own task record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from taskloom import errors
from taskloom.agents.credentials import with_credentials
from taskloom.agents.definition import AgentSpec, MCPServer
from taskloom.llm import Message, ModelChoice
from taskloom.llm.agent import AgentRun, run_agent
from taskloom.llm.approvals import ApprovalRequired
from taskloom.llm.prompts import as_text, instructions_text, join_sections
from taskloom.llm.tools.base import Tool
from taskloom.llm.tools.knowledge import knowledge_tools
from taskloom.llm.tools.mcp import mcp_tools
from taskloom.nodes.base import JSON, NodeContext, NodeResult
from taskloom.nodes.tool_approvals import approvals_of, pause_for, resume_point


class AgentNodeConfig(BaseModel):
    """`definition` of an agent node: the agent inline, or a pointer to a deployed one."""

    model_config = ConfigDict(extra="allow", frozen=True)

    agent: AgentSpec | None = None
    asset_id: str | None = Field(
        default=None, validation_alias=AliasChoices("asset_id", "agent_id", "target_agent_id")
    )
    version: int | Literal["latest"] | None = Field(default=None)
    instructions: str | None = None  # extra instructions for this node's runs
    instructions_mode: Literal["append", "replace"] = "append"
    ignore_response: bool = False  # pass the node's input on instead of the agent's answer

    @model_validator(mode="after")
    def _one_target(self) -> AgentNodeConfig:
        if (self.agent is None) == (self.asset_id is None):
            raise ValueError("an agent node needs exactly one of `agent` or `asset_id`")
        return self


# a workflow's agent node may replace the agent's own instructions for its runs
REPLACE_INSTRUCTIONS = "instructions_replace"


def system_prompt(spec: AgentSpec, request: Mapping[str, Any]) -> str:
    """The agent's instructions, then what this run adds (context, override, output)."""
    expected = request.get("expected_output") or spec.expected_output
    own = request.get(REPLACE_INSTRUCTIONS) or instructions_text(spec.instructions.model_dump())
    return join_sections(
        str(own),
        f"Expected output: {expected}" if expected else "",
        str(request.get("additional_context") or ""),
        str(request.get("instructions_override") or ""),
    )


def model_choice(spec: AgentSpec, request: Mapping[str, Any]) -> ModelChoice:
    """The agent's model, with the per-run overrides of the invoke applied."""
    return ModelChoice(
        model_provider=request.get("llm_model_provider") or spec.model_provider,
        model_name=request.get("llm_model_name") or spec.model_name,
        llm_api_base=spec.llm_api_base,
        llm_extra_headers=spec.llm_extra_headers,
        reasoning_effort=request.get("llm_reasoning_effort") or spec.llm_reasoning_effort,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
    )


def _run_servers(spec: AgentSpec, request: Mapping[str, Any]) -> list[MCPServer]:
    extra = request.get("mcp_servers") or []
    return [*spec.mcp_servers, *(MCPServer.model_validate(server) for server in extra)]


class AgentNode:
    type_name: ClassVar[str] = "agent"
    config_model: ClassVar[type[BaseModel]] = AgentNodeConfig

    async def run(self, ctx: NodeContext, config: AgentNodeConfig, data: JSON) -> NodeResult:
        if config.agent is None:
            return await self._run_sub_task(ctx, config, data)
        return await self._run_inline(ctx, config.agent, data)

    async def _run_inline(self, ctx: NodeContext, spec: AgentSpec, data: JSON) -> NodeResult:
        services = ctx.services
        llm_config, http = services.llm_config, services.http
        if llm_config is None or http is None:
            raise errors.NodeFailed("this process is not set up to run agents")
        request = ctx.request
        output_format = request.get("output_format") or spec.output_format
        output_schema = request.get("output_schema") or spec.output_schema
        secrets = services.secrets

        async def reveal(name: str) -> str:
            if secrets is None:
                raise errors.NodeFailed("this process is not set up to read secrets")
            return await secrets.reveal(organization_id=ctx.organization_id, name=name)

        api_key = None
        if spec.llm_credentials_key and secrets is not None:
            api_key = await reveal(spec.llm_credentials_key)
        spec = await with_credentials(spec, reveal)  # tool headers and MCP keys, for this run
        history = await ctx.history()
        tools = []
        if spec.tools:
            from taskloom.llm.tools.http import http_tools  # loads httpx2: only when needed

            tools = http_tools(spec.tools, client=http.get(), config=llm_config)
        tools += await _toolkit_tools(ctx, spec)
        tools += knowledge_tools(
            services.knowledge,
            organization_id=ctx.organization_id,
            knowledge_base_ids=[ref.id for ref in spec.knowledge_bases],
            limit_bytes=llm_config.tool_result_limit_bytes,
        )
        approvals = approvals_of(spec.hitl_options)
        resume = await resume_point(ctx) if approvals else None
        async with mcp_tools(
            _run_servers(spec, request), http=http, config=llm_config
        ) as remote_tools:
            try:
                outcome = await run_agent(
                    services.llm,
                    model_choice(spec, request),
                    AgentRun(
                        system=system_prompt(spec, request),
                        messages=[*history, Message("user", as_text(data))],
                        tools=[*tools, *remote_tools],
                        output_schema=output_schema if output_format == "json" else None,
                        tool_call_limit=_tool_call_limit(spec, request, llm_config.tool_call_limit),
                        output_retries=llm_config.output_retries,
                        idempotency_key=ctx.idempotency_key,
                        node_id=ctx.node_id,
                        timeout_s=min(services.llm.request_timeout_s, ctx.timeout_s),
                        approvals=approvals,
                        resume=resume,
                    ),
                    ctx.emit,
                    api_key=api_key,
                )
            except ApprovalRequired as asked:
                raise pause_for(ctx, asked) from None
        output: JSON = outcome.data if outcome.data is not None else outcome.text
        return NodeResult(output=output, usage=outcome.usage)

    async def _run_sub_task(
        self, ctx: NodeContext, config: AgentNodeConfig, data: JSON
    ) -> NodeResult:
        subtasks = ctx.services.subtasks
        if subtasks is None or config.asset_id is None:
            raise errors.NodeFailed("this process is not set up to run sub-tasks")
        extra: dict[str, Any] = {}
        if config.instructions:
            mode = "instructions_override" if config.instructions_mode == "append" else None
            extra[mode or REPLACE_INSTRUCTIONS] = config.instructions
        version = config.version if isinstance(config.version, int) else None
        child = await subtasks.run(
            ctx, agent_id=config.asset_id, version=version, text=as_text(data), extra=extra
        )
        if config.ignore_response:
            return NodeResult(output=data, usage=child.usage)
        return NodeResult(output=parsed_result(child.result), usage=child.usage)


async def _toolkit_tools(ctx: NodeContext, spec: AgentSpec) -> list[Tool]:
    """The toolkit operations the agent names in `toolkit_tools`, as tools."""
    services = ctx.services
    if not spec.toolkit_tools:
        return []
    if services.toolkits is None or services.http is None or services.llm_config is None:
        raise errors.NodeFailed("this process is not set up to call toolkits")
    from taskloom.llm.tools.toolkit import operation_tools  # loads httpx2: only when needed

    bound = await services.toolkits.operations(
        organization_id=ctx.organization_id, asset_ids=spec.toolkit_tools
    )
    return operation_tools(bound, client=services.http.get(), config=services.llm_config)


def _tool_call_limit(spec: AgentSpec, request: Mapping[str, Any], default: int) -> int:
    for value in (request.get("tool_call_limit"), spec.tool_call_limit):
        if isinstance(value, int) and value >= 0:
            return value
    return default


def parsed_result(result: str | None) -> JSON:
    """A sub-task's result as the next node gets it: a JSON object or array (what a `json`
    agent answers) as data, anything else as the text it is."""
    if result is None:
        return ""
    if result.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(result)
        except ValueError:
            pass
    return result
