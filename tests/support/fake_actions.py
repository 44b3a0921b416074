"""An HTTP action receiver on 127.0.0.1 that records what agents' tools send it.

Any path answers 200 with `{"ok": true, "echo": <query or body>}`; `/status/<code>` answers that
status; `/slow` waits `?delay=` seconds; `/big` answers `?size=` bytes of "x"; a path put in
`documents` answers that JSON document (an OpenAPI document to import, say).
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.support.threaded import ThreadedServer


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lowercased names
    body: Any  # parsed JSON, or None
    raw_path: str = ""  # as sent, percent-escapes and all


class FakeActions:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.documents: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._server = ThreadedServer(
            Starlette(routes=[Route("/{path:path}", self._handle, methods=_METHODS)]),
            name="fake-actions",
        )

    @property
    def url(self) -> str:
        return self._server.url

    def reset(self) -> None:
        with self._lock:
            self.received.clear()

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        body = json.loads(raw) if raw else None
        query: dict[str, list[str]] = {}
        for name, value in request.query_params.multi_items():
            query.setdefault(name, []).append(value)
        path = request.url.path
        if path in self.documents:
            return JSONResponse(self.documents[path])
        with self._lock:
            self.received.append(
                Received(
                    request.method,
                    path,
                    query,
                    {k.lower(): v for k, v in request.headers.items()},
                    body,
                    request.scope.get("raw_path", b"").decode("latin-1"),
                )
            )
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            return PlainTextResponse(f"status {code}", status_code=code)
        if path == "/slow":
            await asyncio.sleep(float(request.query_params.get("delay", "5")))
        if path == "/big":
            return PlainTextResponse("x" * int(request.query_params.get("size", "1000")))
        echo = body if request.method not in ("GET", "DELETE") else query
        return JSONResponse({"ok": True, "echo": echo})

    def __enter__(self) -> FakeActions:
        self._server.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.stop()


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
