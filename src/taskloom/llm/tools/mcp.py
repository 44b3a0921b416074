"""Tools from remote MCP servers, over `streamable-http` or `sse`, for the length of one run.

    async with mcp_tools(spec.mcp_servers, http=http, config=config) as tools:
        outcome = await run_agent(models, choice, AgentRun(tools=[*actions, *tools], ...), emit)

Sessions open on entry and close on exit, including when the run is cancelled. Each session's
client comes from `http` (`SharedHttpClient.open`), so every connection it makes, redirects
and reconnects included, passes the egress check at the address it dials. A local (stdio)
server is refused: it would run user code in the server process. The `mcp` client is imported
on first use, in a thread, like the model SDKs, so that a process that never connects to an
MCP server never pays for it.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from taskloom.agents.definition import MCPServer
from taskloom.config import LLMConfig
from taskloom.llm.egress import check_scheme
from taskloom.llm.errors import ToolError
from taskloom.llm.tools.base import Tool
from taskloom.llm.tools.http_client import SharedHttpClient

_SESSIONS_MODULE = "taskloom.llm.tools.mcp_session"


def _remote_url(server: MCPServer) -> str:
    label = server.name or server.id or server.url or "(unnamed)"
    if server.type != "remote" or server.transport == "stdio":
        raise ToolError(
            f"MCP server {label!r} is local (stdio): only remote servers over "
            "streamable-http or sse can be used, since user code never runs in the server"
        )
    if not server.url:
        raise ToolError(f"MCP server {label!r} has no url")
    return server.url


@asynccontextmanager
async def mcp_tools(
    servers: Sequence[MCPServer], *, http: SharedHttpClient, config: LLMConfig
) -> AsyncIterator[list[Tool]]:
    """The tools of `servers` (only `allowed_tools` where a server lists some). Raises
    `ToolError` (or its `EgressRefused`) when a server is local, refused or unreachable."""
    urls = [_remote_url(server) for server in servers]
    for url in urls:
        check_scheme(url)
    if not servers:
        yield []
        return
    await asyncio.to_thread(importlib.import_module, _SESSIONS_MODULE)
    from taskloom.llm.tools.mcp_session import open_tools

    async with AsyncExitStack() as stack:
        tools: list[Tool] = []
        for server, url in zip(servers, urls, strict=True):
            tools.extend(await open_tools(stack, server, url, config, http))
        yield tools
