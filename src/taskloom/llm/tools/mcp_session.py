"""One MCP client session and its tools; imported on first use (the `mcp` SDK is heavy)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import (
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    PaginatedRequestParams,
    TextContent,
    TextResourceContents,
)
from mcp_types import Tool as MCPToolSpec

from taskloom.agents.definition import MCPServer
from taskloom.config import LLMConfig
from taskloom.llm.errors import EgressRefused, ToolError
from taskloom.llm.tools.base import Tool, ToolResult, cut_text
from taskloom.llm.tools.http_client import SharedHttpClient

# an idle SSE stream is normal between calls; the per-call timeout bounds each request
_SSE_READ_TIMEOUT_S = 300.0
# the transports fail in these ways when the server goes away mid-session
_CONNECTION_ERRORS = (
    httpx2.HTTPError,
    anyio.ClosedResourceError,
    anyio.BrokenResourceError,
    anyio.EndOfStream,
    OSError,
)


@dataclass(frozen=True, slots=True)
class MCPTool:
    """One tool of an open MCP session."""

    spec: MCPToolSpec
    session: ClientSession = field(repr=False)
    server: str
    timeout_s: float
    limit_bytes: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def description(self) -> str:
        return self.spec.description or ""

    @property
    def parameters(self) -> Mapping[str, Any]:
        return self.spec.input_schema

    async def call(self, args: dict[str, Any], *, idempotency_key: str) -> ToolResult:
        # MCP has no idempotency header; a tool that needs one can take it as an argument
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await self.session.call_tool(
                    self.name, args, read_timeout_seconds=self.timeout_s
                )
        except TimeoutError:
            return ToolResult(f"{self.name} did not answer within {self.timeout_s:g} s", True)
        except MCPError as exc:
            return ToolResult(f"{self.name} failed: {exc}", is_error=True)
        except _CONNECTION_ERRORS as exc:
            return ToolResult(
                f"{self.name} failed: lost the connection to MCP server {self.server!r} "
                f"({type(exc).__name__})",
                is_error=True,
            )
        return ToolResult(cut_text(result_text(result), self.limit_bytes), result.is_error)


def result_text(result: CallToolResult) -> str:
    """What the model reads: the text blocks, placeholders for media, else the structure."""
    pieces: list[str] = []
    for block in result.content:
        if isinstance(block, TextContent):
            pieces.append(block.text)
        elif isinstance(block, EmbeddedResource) and isinstance(
            block.resource, TextResourceContents
        ):
            pieces.append(block.resource.text)
        elif isinstance(block, ImageContent):
            pieces.append(f"[image {block.mime_type}]")
        else:
            pieces.append(f"[{block.type}]")
    if not pieces and result.structured_content is not None:
        return json.dumps(result.structured_content)
    return "\n".join(pieces)


def _headers(server: MCPServer) -> dict[str, str]:
    headers = dict(server.headers)
    if server.api_key:
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        headers["Authorization"] = f"Bearer {server.api_key}"
    return headers


async def _session(
    stack: AsyncExitStack, server: MCPServer, url: str, timeout_s: float, http: SharedHttpClient
) -> ClientSession:
    headers = _headers(server)
    if server.transport == "sse":

        def checked_client(
            headers: dict[str, str] | None = None,
            timeout: httpx2.Timeout | None = None,
            auth: httpx2.Auth | None = None,
        ) -> httpx2.AsyncClient:
            return http.open(headers=headers, timeout=timeout, auth=auth)

        streams = sse_client(
            url,
            headers=headers,
            timeout=timeout_s,
            sse_read_timeout=_SSE_READ_TIMEOUT_S,
            httpx_client_factory=checked_client,
        )
        read, write = await stack.enter_async_context(streams)
    else:
        client = http.open(
            headers=headers, timeout=httpx2.Timeout(timeout_s, read=_SSE_READ_TIMEOUT_S)
        )
        await stack.enter_async_context(client)
        streams = streamable_http_client(url, http_client=client)
        read, write = await stack.enter_async_context(streams)
    session = await stack.enter_async_context(
        ClientSession(read, write, read_timeout_seconds=timeout_s)
    )
    await session.initialize()
    return session


async def _list(session: ClientSession) -> list[MCPToolSpec]:
    specs: list[MCPToolSpec] = []
    cursor: str | None = None
    while True:
        params = PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        specs.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return specs


async def open_tools(
    stack: AsyncExitStack, server: MCPServer, url: str, config: LLMConfig, http: SharedHttpClient
) -> list[Tool]:
    """Open a session to `server` on `stack` (closed with it) and return its tools."""
    label = server.name or server.id or url
    timeout_s = config.tool_timeout_s
    # a failed connection shows when its transport's task group closes, so a server that
    # fails is closed here, inside the error mapping, and only an open one joins `stack`
    opening = AsyncExitStack()
    opened = False
    try:
        try:
            async with asyncio.timeout(timeout_s):
                session = await _session(opening, server, url, timeout_s, http)
                specs = await _list(session)
            opened = True
        finally:
            if not opened:
                await opening.aclose()
    except TimeoutError as exc:
        raise ToolError(f"MCP server {label!r} did not answer within {timeout_s:g} s") from exc
    except EgressRefused:
        raise
    except (MCPError, *_CONNECTION_ERRORS) as exc:
        raise ToolError(f"cannot use MCP server {label!r}: {_describe(exc)}") from exc
    except ExceptionGroup as group:  # the transports' task groups wrap what went wrong
        refused = _refusal(group)
        if refused is not None:
            raise EgressRefused(f"MCP server {label!r}: {refused}") from group
        raise ToolError(f"cannot use MCP server {label!r}: {_describe(group)}") from group
    stack.push_async_exit(opening)
    allowed = set(server.allowed_tools)
    return [
        MCPTool(
            spec=spec,
            session=session,
            server=label,
            timeout_s=timeout_s,
            limit_bytes=config.tool_result_limit_bytes,
        )
        for spec in specs
        if not allowed or spec.name in allowed
    ]


def _refusal(exc: BaseException | None) -> EgressRefused | None:
    """The egress refusal behind a transport's failure, wherever the transport wrapped it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, EgressRefused):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                if (found := _refusal(inner)) is not None:
                    return found
        exc = exc.__cause__ or exc.__context__
    return None


def _describe(exc: BaseException) -> str:
    """A short cause without URLs' query strings or headers: status or exception type."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, MCPError):
        return str(exc)
    return type(exc).__name__
