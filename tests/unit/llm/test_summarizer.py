"""Summarizer decisions without a model server."""

from __future__ import annotations

import pytest

from taskloom.llm import Completion, InvalidModelOutput, Usage
from taskloom.llm.testing import ScriptedModels
from taskloom.nodes.base import NodeResult
from taskloom.nodes.summarizer import (
    DEFAULT_INSTRUCTIONS,
    SummarizerConfig,
    SummarizerNode,
    build_summarizer_prompt,
    summary_text,
)
from tests.unit.llm.nodes import context


def test_prompt_uses_the_instructions() -> None:
    prompt = build_summarizer_prompt(SummarizerConfig(instructions="List the action items."))
    assert "List the action items." in prompt
    assert DEFAULT_INSTRUCTIONS not in prompt


def test_prompt_without_instructions_summarizes() -> None:
    assert DEFAULT_INSTRUCTIONS in build_summarizer_prompt(SummarizerConfig())


def test_summary_text_is_trimmed() -> None:
    assert summary_text("  short.\n") == "short."


def test_empty_summary_is_invalid() -> None:
    with pytest.raises(InvalidModelOutput):
        summary_text(" \n")


async def test_node_outputs_the_text_with_usage_and_no_schema() -> None:
    usage = Usage(prompt_tokens=100, completion_tokens=9)
    models = ScriptedModels().script(Completion(text="Three meetings moved.", usage=usage))
    result = await SummarizerNode().run(context(models), SummarizerConfig(), ["long", "input"])
    assert result.output == "Three meetings moved."
    assert result.route is None
    assert isinstance(result, NodeResult)
    assert result.usage == usage
    [call] = models.calls
    assert call.output_schema is None
