"""Parallel node: every branch gets the same input at once; their outputs are merged."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from taskloom.nodes.base import JSON, NodeContext, NodeResult


class ParallelConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    nodes: list[dict[str, Any]] = Field(min_length=1)
    output_type: str | None = None


def merge_outputs(outputs: list[tuple[str, JSON]]) -> JSON:
    """JSON outputs merge into one object keyed by branch name; if any branch answered with
    text, all are concatenated as text under `## name` headers, in branch order."""
    if all(not isinstance(output, str) for _, output in outputs):
        return dict(outputs)
    sections = []
    for name, output in outputs:
        text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
        sections.append(f"## {name}\n{text}")
    return "\n\n".join(sections)


class ParallelNode:
    type_name: ClassVar[str] = "parallel"
    config_model: ClassVar[type[BaseModel]] = ParallelConfig

    async def run(self, ctx: NodeContext, config: ParallelConfig, data: JSON) -> NodeResult:
        return NodeResult(output=merge_outputs(await ctx.run_children(config.nodes, data)))
