"""Request bodies: refused with 413 past the size limit before any of it is parsed, and with
422 when the JSON holds what JSON does not allow (NaN, Infinity, numbers that overflow)."""

from __future__ import annotations

import json
import math

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """ASGI middleware. The body is read up front (it is at most `max_bytes`) and handed on
    whole, so the limit holds for chunked uploads too and parsing never sees a partial body."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = _non_standard_json(scope, body)
        if problem is not None:
            await _send_json(
                send,
                422,
                {
                    "detail": [
                        {"type": "json_invalid", "loc": ["body"], "msg": problem, "input": None}
                    ]
                },
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as servers do

        await self.app(scope, replay, send)

    async def _reject(self, send: Send) -> None:
        detail = {"detail": f"request body is larger than {self.max_bytes} bytes"}
        await _send_json(send, 413, detail)


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> float:
    raise _NotJson(f"JSON does not allow {name}")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotJson(f"number {text} is out of range")
    return value


def _non_standard_json(scope: Scope, body: bytes) -> str | None:
    """Python's parser accepts NaN and Infinity, which no JSON peer (nor PostgreSQL) does."""
    if not body:
        return None
    for name, value in scope.get("headers", ()):
        if name == b"content-type" and b"json" not in value:
            return None
    try:
        json.loads(body, parse_constant=_reject_constant, parse_float=_finite)
    except _NotJson as exc:
        return str(exc)
    except ValueError:
        return None  # malformed: FastAPI answers that with its own 422
    return None


async def _send_json(send: Send, status: int, payload: object) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})
