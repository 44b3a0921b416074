"""A webhook receiver on loopback that checks Standard Webhooks signatures with the
specification's reference library (`standardwebhooks`), as a user's receiver would."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.threaded import ThreadedServer


@dataclass(frozen=True)
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    verified: dict[str, Any] | None  # the payload, when the signature checked out


@dataclass
class WebhookReceiver:
    """Answers with the scripted statuses (then 200); `secret` is what it verifies with."""

    secret: str | None = None
    statuses: deque[int] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        self._server = ThreadedServer(app, name="webhook-receiver")

    @property
    def url(self) -> str:
        return self._server.url + "/hooks/done"

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified = None
        if self.secret is not None:
            try:
                verified = Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError:
                verified = None
        with self._lock:
            self.received.append(Received(headers.get("webhook-id", ""), headers, body, verified))
            status = self.statuses.popleft() if self.statuses else 200
        return Response(status_code=status)

    def __enter__(self) -> WebhookReceiver:
        self._server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.stop()
