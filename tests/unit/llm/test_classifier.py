"""Classifier decisions without a model server: prompt, schema, answer parsing, output."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from taskloom.llm import Completion, InvalidModelOutput, ProviderUnavailable, Usage
from taskloom.llm.testing import ScriptedModels
from taskloom.nodes.base import NodeResult
from taskloom.nodes.classifier import (
    ClassifierConfig,
    ClassifierNode,
    Group,
    build_classifier_prompt,
    choice_schema,
    classifier_output,
    parse_choice,
)
from tests.unit.llm.nodes import context

GROUPS = [
    Group(id="g-billing", name="Billing", evaluation_criteria="money, invoices, refunds"),
    Group(id="g-tech", name="Technical", evaluation_criteria="bugs and outages"),
]


def config(**fields: Any) -> ClassifierConfig:
    body: dict[str, Any] = {"groups": [g.model_dump() for g in GROUPS]}
    body.update(fields)
    return ClassifierConfig.model_validate(body)


# -- config --------------------------------------------------------------------------------


def test_config_needs_a_group() -> None:
    with pytest.raises(ValidationError):
        ClassifierConfig.model_validate({"groups": []})


def test_config_refuses_duplicate_group_ids() -> None:
    with pytest.raises(ValidationError, match="unique"):
        ClassifierConfig.model_validate({"groups": [{"id": "a"}, {"id": "a"}]})


def test_config_keeps_unknown_fields() -> None:
    assert config(output_type="json").model_extra == {"output_type": "json"}


# -- prompt and schema ---------------------------------------------------------------------


def test_prompt_lists_groups_instructions_and_examples() -> None:
    prompt = build_classifier_prompt(
        config(instructions="Route support mail.", examples=["'my card was charged twice'"])
    )
    assert '- id "g-billing" (Billing): money, invoices, refunds' in prompt
    assert "Route support mail." in prompt
    assert "1. 'my card was charged twice'" in prompt
    assert "extracted_data" not in prompt


def test_prompt_mentions_extraction_when_a_group_extracts() -> None:
    groups = [{"id": "a", "auto_extract_relevant_data": True, "data_extraction_keys": ["order"]}]
    prompt = build_classifier_prompt(ClassifierConfig.model_validate({"groups": groups}))
    assert "[extract: order]" in prompt
    assert "extracted_data" in prompt


def test_schema_enumerates_group_ids() -> None:
    schema = choice_schema(GROUPS)
    assert schema["properties"]["group_id"]["enum"] == ["g-billing", "g-tech"]
    assert schema["required"] == ["group_id", "reason"]


def test_schema_asks_for_extraction_keys_of_extracting_groups_only() -> None:
    groups = [
        Group(id="a", auto_extract_relevant_data=True, data_extraction_keys=["b", "a"]),
        Group(id="b", data_extraction_keys=["ignored"]),
    ]
    extracted = choice_schema(groups)["properties"]["extracted_data"]
    assert extracted["required"] == ["a", "b"]


# -- parsing the answer --------------------------------------------------------------------


def test_parse_structured_answer() -> None:
    choice = parse_choice({"group_id": "g-tech", "reason": "an outage"}, "", GROUPS)
    assert (choice.group.id, choice.reason) == ("g-tech", "an outage")


def test_parse_structured_answer_by_name() -> None:
    assert parse_choice({"group_id": "billing"}, "", GROUPS).group.id == "g-billing"


def test_parse_json_in_fenced_text() -> None:
    text = '```json\n{"group_id": "g-billing", "reason": "refund"}\n```'
    assert parse_choice(None, text, GROUPS).group.id == "g-billing"


def test_parse_bare_id_text() -> None:
    assert parse_choice(None, ' "g-tech". ', GROUPS).group.id == "g-tech"


def test_parse_text_mentioning_one_group() -> None:
    assert parse_choice(None, "This is clearly Technical.", GROUPS).group.id == "g-tech"


def test_parse_text_mentioning_two_groups_is_invalid() -> None:
    with pytest.raises(InvalidModelOutput, match="none of the groups"):
        parse_choice(None, "Billing or Technical, hard to say", GROUPS)


def test_parse_unknown_group_is_invalid() -> None:
    with pytest.raises(InvalidModelOutput):
        parse_choice({"group_id": "g-sales"}, "", GROUPS)


def test_parse_keeps_extracted_data() -> None:
    choice = parse_choice({"group_id": "g-tech", "extracted_data": {"k": "v"}}, "", GROUPS)
    assert choice.extracted == {"k": "v"}


# -- output --------------------------------------------------------------------------------


def test_output_passes_the_input_through() -> None:
    choice = parse_choice({"group_id": "g-tech"}, "", GROUPS)
    assert classifier_output({"x": 1}, choice) == {"x": 1}


def test_output_with_extraction_wraps_the_input() -> None:
    group = Group(id="a", auto_extract_relevant_data=True, data_extraction_keys=["order", "sku"])
    choice = parse_choice({"group_id": "a", "extracted_data": {"order": "42"}}, "", [group])
    assert classifier_output("text", choice) == {
        "input": "text",
        "extracted_data": {"order": "42", "sku": None},
    }


# -- the node on a scripted model ----------------------------------------------------------


async def test_node_routes_to_the_picked_group_and_reports_usage() -> None:
    usage = Usage(prompt_tokens=30, completion_tokens=4)
    models = ScriptedModels().script(Completion(text="", data={"group_id": "g-tech"}, usage=usage))
    result = await ClassifierNode().run(context(models), config(), "the site is down")
    assert result.route == "g-tech"
    assert result.output == "the site is down"
    assert isinstance(result, NodeResult)
    assert result.usage == usage


async def test_node_sends_input_schema_key_and_bounded_timeout() -> None:
    models = ScriptedModels(request_timeout_s=30.0)
    models.script(Completion(text="g-billing"))
    await ClassifierNode().run(context(models, timeout_s=5.0), config(), {"mail": "refund"})
    [call] = models.calls
    assert call.messages[0].content == '{\n  "mail": "refund"\n}'
    assert call.output_schema == choice_schema(GROUPS)
    assert call.idempotency_key == "t1/1/n1@1/0"
    assert call.timeout_s == 5.0


async def test_node_passes_provider_failures_on() -> None:
    models = ScriptedModels().script(ProviderUnavailable("down"))
    with pytest.raises(ProviderUnavailable):
        await ClassifierNode().run(context(models), config(), "x")
