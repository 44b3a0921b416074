"""The agent loop: model turn, tool calls, results back, until the model answers."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

# jsonschema ships no type hints (and types-jsonschema is not a dev dependency)
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    RetryFeedbackPart,
    RetryInfo,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.tools import ToolDefinition

from taskloom.llm.agent import AgentOutcome, AgentRun, Emit
from taskloom.llm.approvals import ApprovalRequired, Resume, ToolDenied
from taskloom.llm.base import AgentModel, Usage
from taskloom.llm.chat import OUTPUT_TOOL, output_parameters, to_model_messages, usage_of
from taskloom.llm.errors import InvalidModelOutput, ToolCallLimitExceeded, ToolError
from taskloom.llm.tools.base import Tool, ToolResult

logger = logging.getLogger(__name__)


def _validator(schema: Mapping[str, Any]) -> Validator:
    as_dict = dict(schema)
    cls = validator_for(as_dict)
    cls.check_schema(as_dict)
    return cls(as_dict)


def schema_error(validator: Validator, instance: Any) -> str | None:
    """The most relevant way `instance` breaks the schema, with where, or None if valid."""
    error = best_match(validator.iter_errors(instance))
    if error is None:
        return None
    where = "/".join(str(step) for step in error.absolute_path)
    return f"{error.message} (at {where})" if where else error.message


def _json_text(text: str) -> Any:
    """The JSON in a text answer, tolerating a Markdown code fence around it."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`").removeprefix("json").strip()
    return json.loads(stripped)


class AgentLoop:
    """One run of an agent. Not reusable: it holds the run's counters."""

    def __init__(self, model: AgentModel, run: AgentRun, emit: Emit) -> None:
        self._model = model
        self._run = run
        self._emit = emit
        self._tools: dict[str, tuple[Tool, Validator]] = {}
        for tool in run.tools:
            if tool.name in self._tools or (run.output_schema and tool.name == OUTPUT_TOOL):
                raise ToolError(f"two tools are named {tool.name!r}: tool names must be unique")
            try:
                self._tools[tool.name] = (tool, _validator(tool.parameters))
            except SchemaError as exc:
                raise ToolError(f"tool {tool.name!r} has an invalid schema: {exc.message}") from exc
        self._output: Validator | None = None
        if run.output_schema is not None:
            try:
                self._output = _validator(run.output_schema)
            except SchemaError as exc:
                raise InvalidModelOutput(f"output_schema is not valid: {exc.message}") from exc
        self._usage = Usage()
        self._calls = 0
        self._output_failures = 0
        self._history: list[ModelMessage] = []
        self._turn = 0  # model calls made
        approvals = run.approvals
        self._gated = approvals.tool_names if approvals else frozenset()

    async def run(self) -> AgentOutcome:
        parameters = self._parameters()
        on_text = None if self._output is not None else self._chunk
        decided = self._run.resume
        if decided is None:
            self._history = to_model_messages(self._run.messages, self._run.system)
        else:
            self._restore(decided.state)
        while True:
            if decided is not None:
                # the response whose calls waited for the decision: answer it first
                response = self._history[-1]
                assert isinstance(response, ModelResponse)  # what _pause saved last
            else:
                response = await self._model.request(
                    self._history,
                    parameters,
                    idempotency_key=f"{self._run.idempotency_key}/turn/{self._turn}",
                    timeout_s=self._run.timeout_s,
                    on_text=on_text,
                )
                self._turn += 1
                self._usage += usage_of(response)
                self._history.append(response)
            outcome, replies = await self._answer(response, decided)
            decided = None
            if outcome is not None:
                return outcome
            self._history.append(ModelRequest(parts=replies))

    def _pause(self, calls: list[ToolCallPart]) -> ApprovalRequired:
        """Everything the run needs to go on from here once a person has decided."""
        state = {
            "history": ModelMessagesTypeAdapter.dump_python(self._history, mode="json"),
            "turn": self._turn,
            "calls": self._calls,
            "output_failures": self._output_failures,
            "usage": [
                self._usage.prompt_tokens,
                self._usage.completion_tokens,
                self._usage.unreported_calls,
            ],
        }
        asked = [
            {"tool_name": c.tool_name, "tool_call_id": c.tool_call_id, "payload": _args(c)}
            for c in calls
        ]
        return ApprovalRequired(turn=self._turn, calls=asked, state=state)

    def _restore(self, state: dict[str, Any]) -> None:
        self._history = ModelMessagesTypeAdapter.validate_python(state["history"])
        self._turn = int(state["turn"])
        self._calls = int(state["calls"])
        self._output_failures = int(state["output_failures"])
        # a state saved before uncounted calls were tracked holds two numbers
        prompt, completion, unreported = [*state["usage"], 0][:3]
        self._usage = Usage(
            prompt_tokens=prompt, completion_tokens=completion, unreported_calls=unreported
        )

    def _parameters(self) -> ModelRequestParameters:
        definitions = [
            ToolDefinition(
                name=tool.name,
                parameters_json_schema=dict(tool.parameters),
                description=tool.description or None,
            )
            for tool, _ in self._tools.values()
        ]
        # with a schema the model must call a tool: one of these, or `answer` with its answer
        parameters = output_parameters(self._run.output_schema)
        parameters.function_tools = definitions
        return parameters

    async def _answer(
        self, response: ModelResponse, decided: Resume | None
    ) -> tuple[AgentOutcome | None, list[ModelRequestPart]]:
        """The run's outcome if `response` is a usable answer, else what to send back."""
        text = "".join(part.content for part in response.parts if isinstance(part, TextPart))
        calls = [p for p in response.parts if isinstance(p, ToolCallPart)]
        answer = next((c for c in calls if c.tool_name == OUTPUT_TOOL and self._output), None)
        calls = [call for call in calls if call is not answer]
        if answer is not None:
            data, problem = self._check_output(lambda: answer.args_as_dict(raise_if_invalid=True))
            if problem is None:  # an answer ends the run; calls made beside it are not run
                return await self._finish_structured(data), []
        if decided is None and any(call.tool_name in self._gated for call in calls):
            raise self._pause(calls)  # no call of this response runs before the decision
        replies = await self._run_calls(calls, reasoning=text, decided=decided) if calls else []
        if answer is not None:
            replies.append(self._retry_output(problem or "", call=answer))
        elif not calls:
            if self._output is None:
                return self._outcome(text, None), []
            data, problem = self._check_output(lambda: _json_text(text))
            if problem is None:
                return await self._finish_structured(data), []
            replies.append(self._retry_output(problem or "", call=None))
        return None, replies

    def _check_output(self, parse: Callable[[], Any]) -> tuple[Any, str | None]:
        """(data, None) when the answer is JSON matching the schema, else (None, why not)."""
        if self._output is None:
            raise RuntimeError("no output schema")
        try:
            data = parse()
        except (ValueError, AssertionError):  # args_as_dict asserts that it got an object
            return None, "the answer is not a valid JSON object"
        problem = schema_error(self._output, data)
        return (data, None) if problem is None else (None, problem)

    async def _finish_structured(self, data: Any) -> AgentOutcome:
        text = json.dumps(data)
        await self._emit("chunk", text)
        return self._outcome(text, data)

    def _outcome(self, text: str, data: Any) -> AgentOutcome:
        return AgentOutcome(text=text, data=data, usage=self._usage, tool_calls=self._calls)

    def _retry_output(self, problem: str, *, call: ToolCallPart | None) -> ModelRequestPart:
        self._output_failures += 1
        retries = self._run.output_retries
        if self._output_failures > retries:
            raise InvalidModelOutput(
                f"the agent's answer does not match output_schema after {retries} retries: "
                f"{problem}"
            )
        info: RetryInfo[Any] = RetryInfo(
            "validation_error", attempt=self._output_failures, max_retries=retries
        )
        message = f"Your answer does not match the required schema: {problem}"
        if call is None:
            return RetryFeedbackPart(message, retry=info)
        return ToolReturnPart(
            OUTPUT_TOOL, message, call.tool_call_id, outcome="retried", retry=info
        )

    async def _run_calls(
        self, calls: list[ToolCallPart], *, reasoning: str, decided: Resume | None
    ) -> list[ModelRequestPart]:
        limit = self._run.tool_call_limit
        if self._calls + len(calls) > limit:
            raise ToolCallLimitExceeded(
                f"the agent asked for more than {limit} tool calls (tool_call_limit is {limit})"
            )
        first, self._calls = self._calls, self._calls + len(calls)
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self._call(first + offset, call, reasoning, decided))
                    for offset, call in enumerate(calls)
                ]
        except ExceptionGroup as failed:  # one call's failure ends the run with its own error
            raise failed.exceptions[0] from None
        return [task.result() for task in tasks]

    async def _call(
        self, index: int, call: ToolCallPart, reasoning: str, decided: Resume | None
    ) -> ModelRequestPart:
        # the call's place in the run, not the provider's random id: a re-run repeats it
        key = f"{self._run.idempotency_key}/{index}"
        args = _args(call)
        gated = decided if call.tool_name in self._gated else None
        event: dict[str, Any] = {
            "request_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"taskloom:tool-call:{key}")),
            "operation_id": call.tool_name,
            "tool_call_id": call.tool_call_id,
            "graph_node_id": self._run.node_id,
            "tool_name": call.tool_name,
            "payload": args,
            "reasoning": {"title": "", "description": reasoning},
            "plan_task_id": None,
        }
        await self._emit("tool_call_request", event)
        if gated is not None and not gated.approved:
            approvals = self._run.approvals
            if approvals is not None and approvals.on_deny == "stop":
                raise ToolDenied(f"the call of {call.tool_name!r} was {gated.denial()}")
            result, cause = ToolResult(gated.denial(), True), None
        else:
            result, cause = await self._invoke(call.tool_name, args, key)
        logger.info(
            "tool called",
            extra={
                "event": "agent_tool_call",
                "tool": call.tool_name,
                "node_id": self._run.node_id,
                "is_error": result.is_error,
            },
        )
        await self._emit(
            "tool_call_result",
            {
                **event,
                "result": result.text,
                "is_error": result.is_error,
                "approval_request_id": gated.request_id if gated else None,
            },
        )
        if cause is not None:
            return ToolReturnPart(
                call.tool_name,
                result.text,
                call.tool_call_id,
                outcome="retried",
                retry=RetryInfo(cause),
            )
        return ToolReturnPart(
            call.tool_name,
            result.text,
            call.tool_call_id,
            outcome="failed" if result.is_error else "success",
        )

    async def _invoke(self, name: str, args: Any, key: str) -> tuple[ToolResult, Any]:
        """The tool's result, and why the model must call again when it could not run."""
        entry = self._tools.get(name)
        if entry is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return ToolResult(
                f"unknown tool {name!r}; the tools are: {known}", True
            ), "unknown_tool"
        tool, validator = entry
        if not isinstance(args, dict):
            return ToolResult("the arguments are not a JSON object", True), "validation_error"
        problem = schema_error(validator, args)
        if problem is not None:
            return ToolResult(f"invalid arguments: {problem}", True), "validation_error"
        return await tool.call(args, idempotency_key=key), None

    async def _chunk(self, fragment: str) -> None:
        await self._emit("chunk", fragment)


def _args(call: ToolCallPart) -> Any:
    """The call's arguments as an object, or as the model sent them when they are not one."""
    try:
        return call.args_as_dict(raise_if_invalid=True)
    except (ValueError, AssertionError):  # args_as_dict asserts that it got an object
        return call.args
