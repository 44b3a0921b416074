"""Code node: runs the user's `def main(input)` in the sandbox; its return value is the output."""

from __future__ import annotations

import json
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from taskloom.errors import CodeError
from taskloom.nodes.base import JSON, NodeContext, NodeResult


class CodeConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(min_length=1)


class CodeNode:
    type_name: ClassVar[str] = "code"
    config_model: ClassVar[type[BaseModel]] = CodeConfig

    async def run(self, ctx: NodeContext, config: CodeConfig, data: JSON) -> NodeResult:
        output = await ctx.services.sandbox.run(
            org_id=ctx.organization_id, code=config.code, input=data, timeout_s=ctx.timeout_s
        )
        try:  # no store can hold a lone surrogate; say so rather than fail to save it
            json.dumps(output, ensure_ascii=False).encode()
        except UnicodeEncodeError as exc:
            raise CodeError("main returned text that is not valid Unicode") from exc
        return NodeResult(output=output)
