"""Toolkit operations as agent tools (and as the action node's one call): the arguments are
`{path_params, query_params, headers, body_params}`, the request goes through the same
`send` as HTTP actions (egress check, idempotency key, bounded answer)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2

from taskloom.config import LLMConfig
from taskloom.llm.tools.base import Tool, ToolResult
from taskloom.llm.tools.http import send
from taskloom.toolkits.calls import BadArguments, prepare
from taskloom.toolkits.definition import BoundOperation, arguments_schema

_NOT_IN_TOOL_NAME = re.compile(r"[^A-Za-z0-9_\-]+")
_TOOL_NAME_LIMIT = 64  # what providers accept


@dataclass(frozen=True, slots=True)
class OperationTool:
    bound: BoundOperation
    client: httpx2.AsyncClient = field(repr=False)
    timeout_s: float
    limit_bytes: int
    tool_name: str = ""

    @property
    def name(self) -> str:
        return self.tool_name or tool_name(self.bound.operation.id)

    @property
    def description(self) -> str:
        operation = self.bound.operation
        summary = operation.description or operation.name
        where = f"{operation.method} {operation.path} ({self.bound.toolkit_name})"
        return f"{summary}\n{where}" if summary else where

    @property
    def parameters(self) -> Mapping[str, Any]:
        return arguments_schema(self.bound.operation)

    async def call(self, args: dict[str, Any], *, idempotency_key: str) -> ToolResult:
        try:
            prepared = prepare(self.bound, args)
        except BadArguments as exc:
            return ToolResult(f"{self.name}: {exc}", is_error=True)
        return await send(
            self.client,
            name=self.name,
            method=prepared.method,
            url=prepared.url,
            headers=prepared.headers,
            idempotency_key=idempotency_key,
            timeout_s=self.timeout_s,
            limit_bytes=self.limit_bytes,
            params=prepared.params,
            json=prepared.body,
        )


def tool_name(operation_id: str) -> str:
    return _NOT_IN_TOOL_NAME.sub("_", operation_id)[:_TOOL_NAME_LIMIT] or "operation"


def operation_tools(
    bound: Sequence[BoundOperation], *, client: httpx2.AsyncClient, config: LLMConfig
) -> list[Tool]:
    """One tool per operation. Names are the operation ids; two toolkits' operations of one
    name are told apart by a number."""
    tools: list[Tool] = []
    taken: set[str] = set()
    for operation in bound:
        name = base = tool_name(operation.operation.id)
        number = 1
        while name in taken:
            number += 1
            suffix = f"_{number}"
            name = base[: _TOOL_NAME_LIMIT - len(suffix)] + suffix
        taken.add(name)
        tools.append(
            OperationTool(
                operation,
                client,
                timeout_s=config.tool_timeout_s,
                limit_bytes=config.tool_result_limit_bytes,
                tool_name=name,
            )
        )
    return tools
