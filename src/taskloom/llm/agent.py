"""The agent loop's public face: what a run is given, what it ends with, and `run_agent`.

A run asks the model, runs the tools it calls (emitting `tool_call_request` and
`tool_call_result` events, docs/events.md), hands it their results and asks again, until it
answers. Text of the answer streams out as `chunk` events. The loop itself lives in
`taskloom.llm.loop`, which needs pydantic-ai: it is imported once the model is ready, so that
importing this module (as the engine does at start) costs nothing.

What a run can end in, besides an outcome:

    ProviderError (and subclasses)   the model could not be reached or refused (errors.py)
    InvalidModelOutput               structured output still invalid after `output_retries`
    ToolCallLimitExceeded            more tool calls than `tool_call_limit`
    ToolError                        two tools share a name, or a tool's schema is not valid
    ApprovalRequired                 the model asked for a tool that waits for a person
    ToolDenied                       a person denied a call and the agent stops on a denial
    asyncio.CancelledError           the task was stopped: raised at once, nothing swallowed
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from taskloom.llm.approvals import Resume, ToolApprovals
from taskloom.llm.base import Message, Usage
from taskloom.llm.choice import ModelChoice
from taskloom.llm.service import Models
from taskloom.llm.tools.base import Tool

Emit = Callable[[str, Any], Awaitable[None]]  # emit(event_type, data)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentRun:
    system: str  # system prompt (instructions, expected output, extra context)
    messages: Sequence[Message]  # conversation history + the current user message (last)
    tools: Sequence[Tool]
    output_schema: Mapping[str, Any] | None  # the final answer must be JSON valid against it
    tool_call_limit: int
    output_retries: int
    idempotency_key: str  # the node run's stable key
    node_id: str  # goes in events as graph_node_id
    timeout_s: float  # one model attempt
    approvals: ToolApprovals | None = None  # tools that wait for a person's approval
    resume: Resume | None = None  # go on from a run that waited for an approval


@dataclass(frozen=True, slots=True)
class AgentOutcome:
    text: str  # the final answer; with output_schema, the JSON text (json.dumps of data)
    data: Any | None  # the parsed structured answer when output_schema was given
    usage: Usage  # summed over every model call of the run
    tool_calls: int


async def run_agent(
    models: Models,
    choice: ModelChoice,
    run: AgentRun,
    emit: Emit,
    *,
    api_key: str | None = None,
) -> AgentOutcome:
    """Run the agent to its answer. `api_key` (a decrypted named secret) replaces the
    server's provider key for this run's model calls; it appears in no event or message."""
    model = await models.agent_model(choice, api_key=api_key)
    from taskloom.llm.loop import AgentLoop  # imported with the providers, see service.py

    return await AgentLoop(model, run, emit).run()
