"""Send-to-end node: skips the rest of the graph; its message (or its input) goes to END."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from taskloom.nodes.base import JSON, NodeContext, NodeResult


class SendToEndConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    message: str | None = None


class SendToEndNode:
    type_name: ClassVar[str] = "send_to_end"
    config_model: ClassVar[type[BaseModel]] = SendToEndConfig

    async def run(self, ctx: NodeContext, config: SendToEndConfig, data: JSON) -> NodeResult:
        return NodeResult(output=config.message if config.message else data, end=True)
