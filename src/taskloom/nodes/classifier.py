"""Classifier node: the model picks one group; the group's id names the outgoing edge.

The run goes down the edge whose `condition.group_id` is the picked group's id
(`NodeResult.route`). The output is the input, passed through unchanged, unless the picked
group has `auto_extract_relevant_data` with `data_extraction_keys`: then it is
`{"input": <the input>, "extracted_data": {<key>: <value or null>, ...}}`, so that later
conditions can test `extracted_data.<key>`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from taskloom.llm import ChatModel, InvalidModelOutput, Message, ModelChoice, Usage
from taskloom.llm.prompts import as_text, examples_section, instructions_text, join_sections
from taskloom.nodes.base import JSON, NodeContext, NodeResult


class Group(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1)
    name: str = ""
    evaluation_criteria: str = ""
    auto_extract_relevant_data: bool = False
    data_extraction_keys: list[str] = Field(default_factory=list)

    @property
    def extraction_keys(self) -> list[str]:
        return self.data_extraction_keys if self.auto_extract_relevant_data else []


def _unique_ids(groups: Sequence[Group]) -> None:
    ids = [group.id for group in groups]
    if len(set(ids)) != len(ids):
        raise ValueError("group ids must be unique")


class ClassifierConfig(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    groups: list[Group] = Field(min_length=1)
    instructions: Any = None
    examples: list[Any] = Field(default_factory=list)
    settings: ModelChoice = Field(default_factory=ModelChoice)

    @model_validator(mode="after")
    def _check_groups(self) -> ClassifierConfig:
        _unique_ids(self.groups)
        return self


@dataclass(frozen=True, slots=True)
class Choice:
    """What the model picked, read from its answer."""

    group: Group
    reason: str = ""
    extracted: Mapping[str, Any] | None = None


# -- pure helpers: prompt, schema, answer, output ------------------------------------------


def _group_line(group: Group) -> str:
    line = f'- id "{group.id}"'
    if group.name and group.name != group.id:
        line += f" ({group.name})"
    if group.evaluation_criteria:
        line += f": {group.evaluation_criteria}"
    if group.extraction_keys:
        line += f" [extract: {', '.join(group.extraction_keys)}]"
    return line


def build_classifier_prompt(config: ClassifierConfig) -> str:
    groups = "\n".join(_group_line(group) for group in config.groups)
    extracting = any(group.extraction_keys for group in config.groups)
    answer = (
        "Answer with the id of the one group that fits the input best as `group_id`, "
        "and a one-sentence `reason`."
    )
    if extracting:
        answer += (
            " If that group lists data to extract, put each listed value, as written in the "
            "input, in `extracted_data` under its key (null when the input does not have it)."
        )
    return join_sections(
        "You are a classifier in an automated workflow. Read the input and decide which "
        "one of these groups it belongs to.",
        f"Groups:\n{groups}",
        instructions_text(config.instructions),
        examples_section(config.examples),
        answer,
    )


def choice_schema(groups: Sequence[Group], *, key: str = "group_id") -> dict[str, Any]:
    """The JSON Schema of the answer: one of the group ids, a reason, extracted values."""
    properties: dict[str, Any] = {
        key: {"type": "string", "enum": [group.id for group in groups]},
        "reason": {"type": "string"},
    }
    keys = sorted({k for group in groups for k in group.extraction_keys})
    if keys:
        properties["extracted_data"] = {
            "type": "object",
            "properties": {k: {"type": ["string", "null"]} for k in keys},
            "required": keys,
            "additionalProperties": False,
        }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


def _json_object(text: str) -> dict[str, Any] | None:
    """A JSON object in the text: the whole of it, fenced or not, or its first {...} span."""
    stripped = _FENCE.sub("", text.strip())
    candidates = [stripped]
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        candidates.append(stripped[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _match(value: object, groups: Sequence[Group]) -> Group | None:
    if not isinstance(value, str):
        return None
    wanted = value.strip().strip("\"'`.").strip()
    for group in groups:
        if group.id == wanted:
            return group
    folded = wanted.casefold()
    for group in groups:
        if group.id.casefold() == folded or (group.name and group.name.casefold() == folded):
            return group
    return None


def _mentioned(text: str, groups: Sequence[Group]) -> list[Group]:
    def named(group: Group) -> bool:
        words = [group.id] + ([group.name] if group.name else [])
        return any(
            re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) for word in words
        )

    return [group for group in groups if named(group)]


def parse_choice(
    data: Mapping[str, Any] | None,
    text: str,
    groups: Sequence[Group],
    *,
    key: str = "group_id",
) -> Choice:
    """The group the model picked: from its structured answer, else from JSON in its text,
    else from text that is (or mentions exactly one of) a group's id or name."""
    answer = data if data is not None else _json_object(text)
    if answer is not None:
        group = _match(answer.get(key), groups)
        if group is not None:
            extracted = answer.get("extracted_data")
            return Choice(
                group=group,
                reason=str(answer.get("reason") or ""),
                extracted=extracted if isinstance(extracted, dict) else None,
            )
    group = _match(text, groups)
    if group is None:
        mentioned = _mentioned(text, groups)
        group = mentioned[0] if len(mentioned) == 1 else None
    if group is None:
        ids = ", ".join(repr(g.id) for g in groups)
        shown = text if len(text) <= 120 else text[:119] + "…"
        raise InvalidModelOutput(f"the model's answer names none of the groups {ids}: {shown!r}")
    return Choice(group=group)


def classifier_output(data: JSON, choice: Choice) -> JSON:
    keys = choice.group.extraction_keys
    if not keys:
        return data
    extracted = choice.extracted or {}
    return {"input": data, "extracted_data": {k: extracted.get(k) for k in keys}}


# -- the node ------------------------------------------------------------------------------


async def choose(
    ctx: NodeContext,
    model: ChatModel,
    *,
    system: str,
    groups: Sequence[Group],
    data: JSON,
    key: str = "group_id",
) -> tuple[Choice, Usage]:
    """Ask `model` to pick one of `groups` for `data`; shared with the guardrail node."""
    completion = await model.complete(
        [Message("user", as_text(data))],
        system=system,
        output_schema=choice_schema(groups, key=key),
        idempotency_key=ctx.idempotency_key,
        timeout_s=min(ctx.services.llm.request_timeout_s, ctx.timeout_s),
    )
    return parse_choice(completion.data, completion.text, groups, key=key), completion.usage


class ClassifierNode:
    type_name: ClassVar[str] = "classifier"
    config_model: ClassVar[type[BaseModel]] = ClassifierConfig

    async def run(self, ctx: NodeContext, config: ClassifierConfig, data: JSON) -> NodeResult:
        choice, usage = await choose(
            ctx,
            await ctx.services.llm.model(config.settings),
            system=build_classifier_prompt(config),
            groups=config.groups,
            data=data,
        )
        return NodeResult(
            output=classifier_output(data, choice), route=choice.group.id, usage=usage
        )
