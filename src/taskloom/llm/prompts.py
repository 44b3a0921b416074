"""Prompt text shared by the LLM-backed nodes: how data and examples are shown to a model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def as_text(data: Any) -> str:
    """The data a node got, as the model reads it: text as is, anything else as JSON."""
    if isinstance(data, str):
        return data
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False, default=str)


def examples_section(examples: Sequence[Any]) -> str:
    """Numbered examples (text, or JSON for structured ones); empty when there are none."""
    if not examples:
        return ""
    lines = ["Examples:"]
    for number, example in enumerate(examples, start=1):
        shown = example if isinstance(example, str) else json.dumps(example, ensure_ascii=False)
        lines.append(f"{number}. {shown}")
    return "\n".join(lines)


def join_sections(*sections: str) -> str:
    """Non-empty sections, a blank line apart."""
    return "\n\n".join(section.strip() for section in sections if section and section.strip())


def instructions_text(instructions: Any) -> str:
    """Instructions as a node may hold them: text, a list of lines, or xpander's
    `{role: [...], goal: [...], general: "..."}` shape."""
    if instructions is None:
        return ""
    if isinstance(instructions, str):
        return instructions
    if isinstance(instructions, list):
        return "\n".join(str(line) for line in instructions)
    if isinstance(instructions, dict):
        parts: list[str] = []
        for key in ("role", "goal", "general"):
            value = instructions.get(key)
            if value:
                parts.append(instructions_text(value))
        return "\n".join(parts)
    return str(instructions)
