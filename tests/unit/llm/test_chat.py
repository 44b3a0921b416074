"""The pydantic-ai adapter's pure parts: history, output tool, completion."""

from __future__ import annotations

import pytest
from pydantic_ai.messages import (
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.usage import RequestUsage

from taskloom.llm.base import Message, Usage
from taskloom.llm.chat import OUTPUT_TOOL, output_parameters, to_completion, to_model_messages


def test_history_puts_the_system_prompt_on_the_first_request() -> None:
    history = to_model_messages(
        [Message("user", "q1"), Message("assistant", "a1"), Message("user", "q2")], "sys"
    )
    first, second, third = history
    assert isinstance(first, ModelRequest)
    assert [type(p) for p in first.parts] == [SystemPromptPart, UserPromptPart]
    assert isinstance(second, ModelResponse)
    assert isinstance(third, ModelRequest)
    assert [type(p) for p in third.parts] == [UserPromptPart]


def test_history_must_start_with_the_user() -> None:
    with pytest.raises(ValueError, match="user"):
        to_model_messages([Message("assistant", "hi")], "sys")


def test_output_parameters_without_schema_allow_text() -> None:
    parameters = output_parameters(None)
    assert parameters.output_tools == []
    assert parameters.allow_text_output


def test_output_parameters_with_schema_force_the_answer_tool() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    parameters = output_parameters(schema)
    [tool] = parameters.output_tools
    assert tool.name == OUTPUT_TOOL
    assert tool.parameters_json_schema == schema
    assert not parameters.allow_text_output


def test_completion_reads_text_and_usage() -> None:
    response = ModelResponse(
        parts=[TextPart(" hello ")],
        usage=RequestUsage(input_tokens=5, output_tokens=2),
        model_name="m",
    )
    completion = to_completion(response)
    assert completion.text == "hello"
    assert completion.data is None
    assert completion.usage == Usage(prompt_tokens=5, completion_tokens=2)
    assert completion.usage.total_tokens == 7
    assert completion.model == "m"


def test_completion_without_usage_is_unreported_not_zero() -> None:
    # pydantic-ai's zero counts when the provider's reply had no `usage` at all
    completion = to_completion(ModelResponse(parts=[TextPart("hi")], usage=RequestUsage()))
    assert completion.usage == Usage(unreported_calls=1)
    assert not completion.usage.known
    assert completion.usage.total_tokens is None


def test_a_sum_with_an_unreported_call_keeps_the_counts_and_has_no_total() -> None:
    total = Usage(prompt_tokens=30, completion_tokens=5) + Usage.unreported()
    assert total == Usage(prompt_tokens=30, completion_tokens=5, unreported_calls=1)
    assert total.total_tokens is None
    assert (Usage(prompt_tokens=1) + Usage(completion_tokens=2)).total_tokens == 3


def test_completion_reads_the_answer_tool_arguments() -> None:
    response = ModelResponse(parts=[ToolCallPart(OUTPUT_TOOL, '{"group_id": "a"}', "c1")])
    assert to_completion(response).data == {"group_id": "a"}


def test_completion_with_broken_arguments_keeps_them_as_text() -> None:
    response = ModelResponse(parts=[ToolCallPart(OUTPUT_TOOL, '"a"', "c1")])
    completion = to_completion(response)
    assert completion.data is None
    assert completion.text == '"a"'
