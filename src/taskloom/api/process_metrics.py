"""A worker-only process's own `/metrics`: the figures that only it knows (its model calls and
its sandbox pool) on `TASKLOOM_WORKER_METRICS_PORT`.

`taskloom worker` serves no API, so without this its model calls would be counted and never
seen. The store-derived figures are left to the API's `/metrics`: served here too, they
would be counted once per worker by a `sum`. A plain asyncio server is enough for one
scraper's GET; it answers and closes, and anything but `GET /metrics` is a 404.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from taskloom.api.metrics import render

Collectors = Callable[[], list[Collector]]


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


async def _answer(
    collectors: Collectors, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        # the request line and headers; the reader's buffer limit (64 KiB) bounds them
        head = await reader.readuntil(b"\r\n\r\n")
        method, _, rest = head.partition(b" ")
        path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
        if method == b"GET" and path == b"/metrics":
            reply = _response("200 OK", CONTENT_TYPE_LATEST, render(collectors()))
        else:
            reply = _response("404 Not Found", "text/plain", b"not found\n")
        writer.write(reply)
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass  # the scraper went away or sent no request: nothing to answer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def serve_process_metrics(
    collectors: Collectors, *, host: str, port: int
) -> AsyncIterator[int]:
    """Serve `GET /metrics` on host:port while the block runs; yields the port bound (for
    port 0, the one the system chose)."""
    server = await asyncio.start_server(
        lambda reader, writer: _answer(collectors, reader, writer), host, port
    )
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()
