"""Node pointer: a jump. The graph resolves it to its source node, so it never runs itself."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from taskloom.nodes.base import JSON, NodeContext, NodeResult


class NodePointerConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    source_node_id: str = Field(min_length=1)


class NodePointerNode:
    type_name: ClassVar[str] = "node_pointer"
    config_model: ClassVar[type[BaseModel]] = NodePointerConfig

    async def run(self, ctx: NodeContext, config: NodePointerConfig, data: JSON) -> NodeResult:
        # Graph.resolve() replaces every pointer before the runner gets here
        raise RuntimeError("node_pointer must be resolved by the graph, not run")
