"""A real MCP server (the `mcp` SDK's MCPServer) on 127.0.0.1, over streamable-http and sse.

    with FakeMCP() as fake:
        fake.streamable_http_url  # http://127.0.0.1:<port>/mcp
        fake.sse_url              # http://127.0.0.1:<port>/sse
        fake.headers              # headers of every HTTP request the servers received

Tools: `add(a, b)`, `shout(text)` and `fail()` (always an error result).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.support.threaded import ThreadedServer


def _mcp_server() -> MCPServer:
    server = MCPServer("taskloom-fake")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def shout(text: str) -> str:
        """The text in capitals."""
        return text.upper()

    @server.tool()
    def fail() -> str:
        """Always fails."""
        raise ValueError("this tool always fails")

    return server


class _RecordHeaders:
    """ASGI middleware: keeps each HTTP request's headers (lowercased names)."""

    def __init__(self, app: ASGIApp, sink: Callable[[dict[str, str]], None]) -> None:
        self._app = app
        self._sink = sink

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None] | None:
        if scope["type"] == "http":
            self._sink({k.decode().lower(): v.decode() for k, v in scope["headers"]})
        await self._app(scope, receive, send)
        return None


class FakeMCP:
    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._http = ThreadedServer(
            _RecordHeaders(_mcp_server().streamable_http_app(), self._record), name="fake-mcp-http"
        )
        self._sse = ThreadedServer(
            _RecordHeaders(_mcp_server().sse_app(), self._record), name="fake-mcp-sse"
        )

    def _record(self, headers: dict[str, str]) -> None:
        with self._lock:
            self.headers.append(headers)

    @property
    def streamable_http_url(self) -> str:
        return f"{self._http.url}/mcp"

    @property
    def sse_url(self) -> str:
        return f"{self._sse.url}/sse"

    def reset(self) -> None:
        with self._lock:
            self.headers.clear()

    def __enter__(self) -> FakeMCP:
        self._http.start()
        self._sse.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._http.stop()
        self._sse.stop()
