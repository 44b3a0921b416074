"""Webhooks: a JSON event POSTed to a URL and signed as Standard Webhooks (`webhook-id`,
`webhook-timestamp`, `webhook-signature`), through the egress-checked client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import ClassVar

from taskloom.engine.channels.base import Outcome, Outgoing
from taskloom.llm.egress import check_scheme
from taskloom.llm.tools.http_client import SharedHttpClient

SECRET_PREFIX = "whsec_"

# sends one request; returns the response status, raises when it cannot
Send = Callable[[str, dict[str, str], bytes, float], Awaitable[int]]


def http_sender(http: SharedHttpClient) -> Send:
    """Webhooks go where agents' tools may: through the client whose every connection the
    egress rules check, no redirects followed."""

    async def send(url: str, headers: dict[str, str], body: bytes, timeout_s: float) -> int:
        check_scheme(url)
        reply = await http.get().post(url, content=body, headers=headers, timeout=timeout_s)
        return reply.status_code

    return send


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(signing_secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: one `v1,<base64 HMAC-SHA256>` per secret, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    parts = []
    for secret in signing_secrets:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
        digest = hmac.new(key, signed, hashlib.sha256).digest()
        parts.append("v1," + base64.b64encode(digest).decode())
    return " ".join(parts)


class WebhookChannel:
    name: ClassVar[str] = "webhook"

    def __init__(self, send: Send) -> None:
        self._send = send

    async def send(self, outgoing: Outgoing, timeout_s: float) -> Outcome:
        delivery = outgoing.delivery
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        timestamp = int(outgoing.now.timestamp())
        headers = {
            **delivery.headers,
            **outgoing.secret_headers,
            "content-type": "application/json",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(outgoing.signing_secrets, delivery.id, timestamp, body),
        }
        status = await self._send(delivery.target, headers, body, timeout_s)
        if 200 <= status < 300:
            return Outcome(ok=True, status_code=status)
        return Outcome(ok=False, status_code=status, error=f"the receiver answered {status}")
