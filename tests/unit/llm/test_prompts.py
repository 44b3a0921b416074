"""How data, examples and instructions are shown to a model."""

from __future__ import annotations

from taskloom.llm.prompts import as_text, examples_section, instructions_text, join_sections


def test_as_text_keeps_text() -> None:
    assert as_text("héllo") == "héllo"


def test_as_text_shows_json_readably() -> None:
    assert as_text({"name": "Zoë", "n": 1}) == '{\n  "name": "Zoë",\n  "n": 1\n}'


def test_examples_section_numbers_examples() -> None:
    section = examples_section(["refund please", {"input": "hi", "group": "other"}])
    assert section == 'Examples:\n1. refund please\n2. {"input": "hi", "group": "other"}'


def test_examples_section_is_empty_without_examples() -> None:
    assert examples_section([]) == ""


def test_instructions_text_accepts_the_xpander_shape() -> None:
    instructions = {"role": ["You triage."], "goal": ["Be exact."], "general": "Be brief."}
    assert instructions_text(instructions) == "You triage.\nBe exact.\nBe brief."


def test_instructions_text_accepts_text_lists_and_none() -> None:
    assert instructions_text("do it") == "do it"
    assert instructions_text(["a", "b"]) == "a\nb"
    assert instructions_text(None) == ""


def test_join_sections_skips_empty_ones() -> None:
    assert join_sections("a", "", "  ", "b\n") == "a\n\nb"
