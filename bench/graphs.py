"""The benchmark graphs W1, W2 and W3 (bench/README.md), the stream graph, how to deploy them,
and their checks."""

from __future__ import annotations

import json
from typing import Any

import httpx

from fake_model import reply_text

W3_BRANCHES = 20
STREAM_SLEEP_S = 0.2  # the stream graph's node: its task completes while its stream is open


def _code(node_id: str, code: str, next_ids: list[str]) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "code",
        "name": node_id,
        "definition": {"code": code},
        "next_node_ids": next_ids,
    }


def w1_definition() -> dict[str, Any]:
    """Three code nodes in a chain: upper-case; append " world"; count the characters."""
    return {
        "name": "bench-w1",
        "output_format": "json",
        "orchestration_nodes": [
            _code("upper", "def main(input):\n    return input.upper()", ["world"]),
            _code("world", "def main(input):\n    return input + ' world'", ["count"]),
            _code(
                "count",
                "def main(input):\n    return {'text': input, 'chars': len(input)}",
                [],
            ),
        ],
    }


def w3_definition() -> dict[str, Any]:
    """A code node, a parallel node of 20 code branches (branch i: len(text) + i), a join."""
    branches = [
        _code(f"b{i}", f"def main(input):\n    return len(input) + {i}", [])
        for i in range(W3_BRANCHES)
    ]
    return {
        "name": "bench-w3",
        "output_format": "json",
        "orchestration_nodes": [
            _code("start", "def main(input):\n    return input", ["fan"]),
            {
                "id": "fan",
                "type": "parallel",
                "name": "fan",
                "definition": {"nodes": branches},
                "next_node_ids": ["join"],
            },
            _code("join", "def main(input):\n    return {'sum': sum(input.values())}", []),
        ],
    }


def stream_definition() -> dict[str, Any]:
    """One code node that sleeps, then returns {"text": text, "chars": len(text)}."""
    code = (
        "import time\n\n\ndef main(input):\n"
        f"    time.sleep({STREAM_SLEEP_S})\n"
        "    return {'text': input, 'chars': len(input)}"
    )
    return {
        "name": "bench-streams",
        "output_format": "json",
        "orchestration_nodes": [_code("sleep", code, [])],
    }


def wait_definition() -> dict[str, Any]:
    """A `hitl` wait node, then one code node returning the decision it was handed."""
    wait = {
        "id": "ask",
        "type": "wait",
        "name": "ask",
        "definition": {"type": "hitl"},
        "next_node_ids": ["after"],
    }
    code = (
        "def main(input):\n"
        "    return {'approved': input['approved'], 'by': input['decided_by'],"
        " 'at': input['decided_at']}"
    )
    return {
        "name": "bench-waits",
        "output_format": "json",
        "orchestration_nodes": [wait, _code("after", code, [])],
    }


def w2_agent_definition(api_base: str) -> dict[str, Any]:
    """W2's agent: an OpenAI-compatible model at `api_base` (the fake, on loopback)."""
    return {
        "name": "w2",
        "model_provider": "openai",
        "model_name": "bench",
        "llm_api_base": api_base,
    }


def w2_definition(agent_id: str) -> dict[str, Any]:
    """W2: one agent node that runs the deployed agent as a sub-task."""
    node = {
        "id": "a",
        "type": "agent",
        "name": "a",
        "definition": {"asset_id": agent_id},
        "next_node_ids": [],
    }
    return {"name": "bench-w2", "orchestration_nodes": [node]}


async def deploy_agent(client: httpx.AsyncClient, definition: dict[str, Any]) -> str:
    """Create the agent and deploy it; returns its id. Raises on any failure."""
    created = await client.post("/v1/agents", json=definition)
    created.raise_for_status()
    agent_id: str = created.json()["id"]
    deployed = await client.put(f"/v1/agents/{agent_id}")
    deployed.raise_for_status()
    return agent_id


async def deploy(client: httpx.AsyncClient, definition: dict[str, Any]) -> str:
    """Create the workflow and deploy version 1; returns its id. Raises on any failure."""
    created = await client.post("/v1/workflows", json=definition)
    created.raise_for_status()
    workflow_id: str = created.json()["id"]
    deployed = await client.put(f"/v1/workflows/{workflow_id}")
    deployed.raise_for_status()
    return workflow_id


def _result(task: dict[str, Any]) -> Any:
    result = task.get("result")
    return json.loads(result) if isinstance(result, str) else None


def w1_ok(text: str, task: dict[str, Any]) -> bool:
    """W1's result is {"text": TEXT.upper() + " world", "chars": len(text) + 6}."""
    try:
        result = _result(task)
    except ValueError:
        return False
    return (
        isinstance(result, dict)
        and result.get("chars") == len(text) + 6
        and result.get("text") == text.upper() + " world"
    )


def w3_ok(text: str, task: dict[str, Any]) -> bool:
    """W3's result is {"sum": 20 * len(text) + 190}."""
    try:
        result = _result(task)
    except ValueError:
        return False
    expected = W3_BRANCHES * len(text) + sum(range(W3_BRANCHES))
    return isinstance(result, dict) and result.get("sum") == expected


def stream_ok(text: str, task: dict[str, Any]) -> bool:
    """The stream graph's result is {"text": text, "chars": len(text)}."""
    try:
        result = _result(task)
    except ValueError:
        return False
    return isinstance(result, dict) and result == {"text": text, "chars": len(text)}


def wait_ok(decided_by: str, task: dict[str, Any]) -> bool:
    """The wait graph's result: approved, by whom the approval said."""
    try:
        result = _result(task)
    except ValueError:
        return False
    return (
        task.get("status") == "completed"
        and isinstance(result, dict)
        and result.get("approved") is True
        and result.get("by") == decided_by
    )


def w2_ok(text: str, task: dict[str, Any]) -> bool:
    """W2's result is the fake model's reply to the input text, as text."""
    return task.get("status") == "completed" and task.get("result") == reply_text(text)
