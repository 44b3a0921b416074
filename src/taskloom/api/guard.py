"""Request hygiene at the edge, before routing: what no route can store or look up.

- a body past the size limit: 413, before any of it is parsed;
- JSON that JSON does not allow (NaN, Infinity, numbers that overflow) or that holds a lone
  UTF-16 surrogate (no database can store it): 422;
- a NUL character in the path (no id holds one: 404) or the query string (422): PostgreSQL
  text cannot hold NUL, so it must never reach a query.
"""

from __future__ import annotations

import json
import math
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestGuard:
    """ASGI middleware. The body is read up front (it is at most `max_bytes`) and handed on
    whole, so the limit holds for chunked uploads too and parsing never sees a partial body."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"]:
            await _send_json(send, 404, {"detail": "not found"})
            return
        if b"%00" in scope.get("query_string", b""):
            detail = [
                {
                    "type": "string_type",
                    "loc": ["query"],
                    "msg": "NUL is not allowed",
                    "input": None,
                }
            ]
            await _send_json(send, 422, {"detail": detail})
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
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


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


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
        parsed = json.loads(body, parse_constant=_reject_constant, parse_float=_finite)
        if _SURROGATE_ESCAPE.search(body):  # only a \uD8xx..\uDFxx escape can make one
            json.dumps(parsed, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return "JSON holds a lone UTF-16 surrogate, which is not valid text"
    except _NotJson as exc:
        return str(exc)
    except RecursionError:
        return "JSON is nested too deeply"
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
