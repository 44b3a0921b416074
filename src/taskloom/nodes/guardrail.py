"""Guardrail node: the model judges the input against pass and fail criteria; routes either way.

The groups' ids are exactly `pass` and `fail`, and the verdict is the route, so the run goes
down the edge whose `condition.group_id` is `pass` or `fail`. The output is the input, passed
through unchanged. Without groups, the model judges by the instructions alone.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from taskloom.llm import ModelChoice
from taskloom.llm.prompts import examples_section, instructions_text, join_sections
from taskloom.nodes.base import JSON, NodeContext, NodeResult
from taskloom.nodes.classifier import Group, choose

PASS, FAIL = "pass", "fail"


def _default_groups() -> list[Group]:
    return [
        Group(id=PASS, name="pass", evaluation_criteria="the input meets the requirements"),
        Group(id=FAIL, name="fail", evaluation_criteria="the input does not meet them"),
    ]


class GuardrailConfig(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    groups: list[Group] = Field(default_factory=_default_groups)
    instructions: Any = None
    examples: list[Any] = Field(default_factory=list)
    settings: ModelChoice = Field(default_factory=ModelChoice)

    @model_validator(mode="after")
    def _pass_and_fail(self) -> GuardrailConfig:
        if sorted(group.id for group in self.groups) != [FAIL, PASS]:
            raise ValueError('a guardrail has exactly two groups, with ids "pass" and "fail"')
        return self


def build_guardrail_prompt(config: GuardrailConfig) -> str:
    by_id = {group.id: group for group in config.groups}
    criteria = [
        f"It passes when: {by_id[PASS].evaluation_criteria or 'it meets the instructions'}",
        f"It fails when: {by_id[FAIL].evaluation_criteria or 'it does not'}",
    ]
    return join_sections(
        "You are a guardrail in an automated workflow. Judge whether the input may go on.",
        "\n".join(criteria),
        instructions_text(config.instructions),
        examples_section(config.examples),
        'Answer with `verdict` "pass" or "fail", and a one-sentence `reason`.',
    )


class GuardrailNode:
    type_name: ClassVar[str] = "guardrail"
    config_model: ClassVar[type[BaseModel]] = GuardrailConfig

    async def run(self, ctx: NodeContext, config: GuardrailConfig, data: JSON) -> NodeResult:
        choice, usage = await choose(
            ctx,
            await ctx.services.llm.model(config.settings),
            system=build_guardrail_prompt(config),
            groups=config.groups,
            data=data,
            key="verdict",
        )
        return NodeResult(output=data, route=choice.group.id, usage=usage)
