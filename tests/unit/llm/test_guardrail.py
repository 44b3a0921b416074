"""Guardrail decisions without a model server."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from taskloom.llm import Completion
from taskloom.llm.testing import ScriptedModels
from taskloom.nodes.guardrail import GuardrailConfig, GuardrailNode, build_guardrail_prompt
from tests.unit.llm.nodes import context


def config(**fields: Any) -> GuardrailConfig:
    return GuardrailConfig.model_validate(fields)


def test_config_defaults_to_pass_and_fail_groups() -> None:
    assert [group.id for group in config().groups] == ["pass", "fail"]


def test_config_refuses_other_group_ids() -> None:
    with pytest.raises(ValidationError, match='"pass" and "fail"'):
        config(groups=[{"id": "ok"}, {"id": "fail"}])


def test_config_refuses_a_third_group() -> None:
    with pytest.raises(ValidationError):
        config(groups=[{"id": "pass"}, {"id": "fail"}, {"id": "maybe"}])


def test_prompt_states_both_criteria() -> None:
    prompt = build_guardrail_prompt(
        config(
            groups=[
                {"id": "fail", "evaluation_criteria": "contains personal data"},
                {"id": "pass", "evaluation_criteria": "no personal data"},
            ],
            instructions="Check outgoing replies.",
        )
    )
    assert "It passes when: no personal data" in prompt
    assert "It fails when: contains personal data" in prompt
    assert "Check outgoing replies." in prompt


@pytest.mark.parametrize("verdict", ["pass", "fail"])
async def test_node_routes_on_the_verdict_and_passes_the_input_through(verdict: str) -> None:
    models = ScriptedModels().script(Completion(text="", data={"verdict": verdict}))
    result = await GuardrailNode().run(context(models), config(), {"reply": "hi"})
    assert result.route == verdict
    assert result.output == {"reply": "hi"}
    [call] = models.calls
    assert call.output_schema is not None
    assert call.output_schema["properties"]["verdict"]["enum"] == ["pass", "fail"]


async def test_node_reads_a_plain_text_verdict() -> None:
    models = ScriptedModels().script(Completion(text="FAIL"))
    result = await GuardrailNode().run(context(models), config(), "x")
    assert result.route == "fail"
