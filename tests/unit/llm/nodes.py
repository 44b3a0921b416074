"""A NodeContext for running one LLM-backed node on a ScriptedModels, without a task."""

from __future__ import annotations

from typing import Any

from taskloom.config import SandboxConfig
from taskloom.llm.testing import ScriptedModels
from taskloom.nodes.base import JSON, NodeContext, NodeServices
from taskloom.sandbox import SandboxPool


async def _no_children(children: Any, data: JSON) -> list[tuple[str, JSON]]:
    raise AssertionError("an LLM node has no children")


def context(models: ScriptedModels, *, timeout_s: float = 60.0) -> NodeContext:
    return NodeContext(
        task_id="t1",
        organization_id="o1",
        turn=1,
        node_id="n1",
        node_name="node",
        idempotency_key="t1/1/n1@1/0",
        timeout_s=timeout_s,
        services=NodeServices(sandbox=SandboxPool(SandboxConfig()), llm=models),
        run_children=_no_children,
    )
