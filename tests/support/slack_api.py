"""A Slack-Web-API-shaped server on loopback: `chat.postMessage` with a Bearer bot token and
a JSON body, answering as Slack does (HTTP 200 with `ok: true|false`, or a scripted status
such as 429 with `Retry-After` or a 500)."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.threaded import ThreadedServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Post:
    authorization: str
    content_type: str
    body: dict[str, Any]


@dataclass
class SlackApi:
    """Posts with the right token are answered with the scripted replies (then `ok: true`);
    a wrong or missing token gets Slack's `invalid_auth`."""

    token: str = "xoxb-test-token"
    replies: deque[Reply] = field(default_factory=deque)
    posts: list[Post] = field(default_factory=list)
    # posts to these channels are answered only once `release` is set (a slow Slack)
    held: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/api/chat.postMessage", self._post, methods=["POST"])])
        self._server = ThreadedServer(app, name="slack-api")

    @property
    def url(self) -> str:
        return self._server.url + "/api"

    async def _post(self, request: Request) -> JSONResponse:
        body = await request.json()
        if body.get("channel") in self.held:
            await asyncio.to_thread(self.release.wait, 30)
        authorization = request.headers.get("authorization", "")
        with self._lock:
            self.posts.append(Post(authorization, request.headers.get("content-type", ""), body))
            if authorization != f"Bearer {self.token}":
                return JSONResponse({"ok": False, "error": "invalid_auth"})
            reply = self.replies.popleft() if self.replies else Reply()
        if reply.status == 200 and reply.body.get("ok"):
            reply = Reply(body={"ok": True, "channel": body.get("channel"), "ts": "1.000100"})
        return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

    def __enter__(self) -> SlackApi:
        self._server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.stop()
