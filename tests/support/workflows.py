"""Workflow bodies used across the tests (the graphs of bench/README.md among them)."""

from __future__ import annotations

from typing import Any


def code_node(
    node_id: str, body: str, *, next_ids: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """A code node whose `main(input)` body is `body` (one expression or statements)."""
    source = "def main(input):\n" + "\n".join(f"    {line}" for line in body.splitlines())
    return {
        "id": node_id,
        "type": "code",
        "name": extra.pop("name", node_id),
        "definition": {"code": source},
        "next_node_ids": next_ids or [],
        **extra,
    }


def w1() -> dict[str, Any]:
    return {
        "name": "w1",
        "output_format": "json",
        "orchestration_nodes": [
            # text in, whatever else the caller sends (a user, files)
            {
                **code_node("upper", "return input.upper()", next_ids=["append"]),
                "input_type": "text",
            },
            code_node("append", "return input + ' world'", next_ids=["count"]),
            code_node("count", "return {'text': input, 'chars': len(input)}"),
        ],
    }


def w3(branches: int = 20) -> dict[str, Any]:
    children = [code_node(f"b{i}", f"return len(input) + {i}") for i in range(branches)]
    return {
        "name": "w3",
        "output_format": "json",
        "orchestration_nodes": [
            code_node("start", "return input", next_ids=["fan"]),
            {
                "id": "fan",
                "type": "parallel",
                "name": "fan",
                "definition": {"nodes": children},
                "next_node_ids": ["join"],
            },
            code_node("join", "return {'sum': sum(input.values())}"),
        ],
    }
