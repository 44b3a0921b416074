"""Summarizer node: the model condenses the input (or answers a question about it) as text."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from taskloom.llm import InvalidModelOutput, Message, ModelChoice
from taskloom.llm.prompts import as_text, examples_section, instructions_text, join_sections
from taskloom.nodes.base import JSON, NodeContext, NodeResult

DEFAULT_INSTRUCTIONS = "Summarize the input: keep every fact a reader needs, drop the rest."


class SummarizerConfig(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    instructions: Any = None
    examples: list[Any] = Field(default_factory=list)
    settings: ModelChoice = Field(default_factory=ModelChoice)


def build_summarizer_prompt(config: SummarizerConfig) -> str:
    return join_sections(
        "You work in an automated workflow: you condense large inputs and answer questions "
        "about them. Answer with the text alone, without a preamble.",
        instructions_text(config.instructions) or DEFAULT_INSTRUCTIONS,
        examples_section(config.examples),
    )


def summary_text(text: str) -> str:
    summary = text.strip()
    if not summary:
        raise InvalidModelOutput("the model answered with no text")
    return summary


class SummarizerNode:
    type_name: ClassVar[str] = "summarizer"
    config_model: ClassVar[type[BaseModel]] = SummarizerConfig

    async def run(self, ctx: NodeContext, config: SummarizerConfig, data: JSON) -> NodeResult:
        model = await ctx.services.llm.model(config.settings)
        completion = await model.complete(
            [Message("user", as_text(data))],
            system=build_summarizer_prompt(config),
            idempotency_key=ctx.idempotency_key,
            timeout_s=min(ctx.services.llm.request_timeout_s, ctx.timeout_s),
        )
        return NodeResult(output=summary_text(completion.text), usage=completion.usage)
