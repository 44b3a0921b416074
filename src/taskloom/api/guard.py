"""Request hygiene at the edge: what no route can store or look up.

`RequestGuard` (ASGI middleware, before routing):
- a body past the size limit: 413, before any of it is parsed;
- JSON nested deeper than the depth limit: 422, found by a scan of the bytes, before any
  parser recurses into it;
- a NUL character in the path (no id holds one: 404) or the query string (422): PostgreSQL
  text cannot hold NUL, so it must never reach a query.

`StrictJsonRoute` (the route class of every router) parses a JSON body once, strictly, and
hands the result to FastAPI: JSON that JSON does not allow (NaN, Infinity, numbers that
overflow a double), integers past `JSON_MAX_INTEGER`, a lone UTF-16 surrogate (no database can
store it) and bytes that are not UTF-8 are 422.
"""

from __future__ import annotations

import email.message
import functools
import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskloom.api.responses import error_replies

# I-JSON (RFC 7493): integers past 2**53 - 1 do not survive a trip through most JSON peers
# (JavaScript, and every parser that reads numbers as doubles). Not a tunable limit: it is
# what JSON can carry between programs.
JSON_MAX_INTEGER = 2**53 - 1


class RequestGuard:
    """ASGI middleware. The body is read up front (it is at most `max_bytes`) and handed on
    whole, so the limit holds for chunked uploads too and parsing never sees a partial body."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"]:
            await _send_json(send, 404, {"detail": "not found"})
            return
        if b"%00" in scope.get("query_string", b""):
            await _send_json(send, 422, _invalid(["query"], "string_type", "NUL is not allowed"))
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and _past(value, self.max_bytes):
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
        if is_json(scope) and nested_deeper_than(body, self.max_depth):
            problem = f"JSON is nested deeper than {self.max_depth} levels"
            await _send_json(send, 422, _invalid(["body"], "json_invalid", problem))
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


def _past(digits: bytes, limit: int) -> bool:
    # the length first: int() refuses numbers of more than 4300 digits
    return len(digits) > len(str(limit)) or int(digits) > limit


# -- nesting depth, from the bytes -------------------------------------------------------

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_ONE_KIND = bytes.maketrans(b"{}", b"[]")


def nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether the JSON in `body` nests arrays and objects more than `limit` deep.

    No parser runs: strings are cut out (their brackets do not nest), the brackets that
    remain are made one kind, and each pass removes the innermost pairs, so `limit` passes
    empty any document at most `limit` deep. A run of `limit + 1` openers settles it at once.
    Malformed JSON that is not too deep passes, for the parser to refuse."""
    if body.count(b"[") + body.count(b"{") <= limit:  # most bodies: one pass in C
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(_ONE_KIND, _NOT_A_BRACKET)
    too_deep = b"[" * (limit + 1)
    for _ in range(limit):
        if too_deep in brackets:
            return True
        shallower = brackets.replace(b"[]", b"")
        if not shallower or len(shallower) == len(brackets):  # empty, or not balanced
            return False
        brackets = shallower
    return b"[]" in brackets


# -- strict JSON bodies ------------------------------------------------------------------


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is parsed here, strictly, once; FastAPI reads the result.
    Its documented replies include the guard's 413 and, for writes, 409."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        statuses = ([409] if methods & _WRITES else []) + ([413] if methods & _WITH_BODY else [])
        kwargs["responses"] = {**error_replies(*statuses), **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:  # the route reads no body
            return handler

        async def strict_handler(request: Request) -> Response:
            parsed = _ParsedJsonRequest(request.scope, request.receive)
            if is_json(request.scope):
                await parsed.parse()
            return await handler(parsed)

        return strict_handler


class _ParsedJsonRequest(Request):
    _parsed: Any

    async def parse(self) -> None:
        body = await self.body()
        if body:
            self._parsed = strict_json(body)

    async def json(self) -> Any:
        if hasattr(self, "_parsed"):
            return self._parsed
        return await super().json()


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> float:
    raise _NotJson(f"JSON does not allow {name}")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotJson(f"number {text} is out of range")
    return value


def _bounded(text: str) -> int:
    # the length first: int() of thousands of digits is slow, and refused past 4300
    if len(text) > 17 or abs(value := int(text)) > JSON_MAX_INTEGER:
        shown = text if len(text) <= 40 else f"{text[:20]}...({len(text)} digits)"
        raise _NotJson(f"integer {shown} is out of range (at most {JSON_MAX_INTEGER} either way)")
    return value


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def strict_json(body: bytes) -> Any:
    """The parsed body, or RequestValidationError (422) in FastAPI's shape."""
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise _invalid_body(f"the body is not UTF-8: byte {exc.start} is invalid") from exc
    try:
        parsed = json.loads(
            text, parse_constant=_reject_constant, parse_float=_finite, parse_int=_bounded
        )
        if _SURROGATE_ESCAPE.search(body):  # only a \uD8xx..\uDFxx escape can make one
            json.dumps(parsed, ensure_ascii=False).encode()
    except json.JSONDecodeError as exc:
        raise _invalid_body(f"JSON decode error: {exc.msg} at position {exc.pos}") from exc
    except UnicodeEncodeError as exc:
        raise _invalid_body("JSON holds a lone UTF-16 surrogate, which is not valid text") from exc
    except _NotJson as exc:
        raise _invalid_body(str(exc)) from exc
    except RecursionError as exc:  # the guard's depth limit is far below the parser's
        raise _invalid_body("JSON is nested too deeply") from exc
    return parsed


def _invalid_body(problem: str) -> RequestValidationError:
    detail: list[Any] = _invalid(["body"], "json_invalid", problem)["detail"]
    return RequestValidationError(detail)


def _invalid(loc: list[str], kind: str, problem: str) -> dict[str, Any]:
    return {"detail": [{"type": kind, "loc": loc, "msg": problem, "input": None}]}


def is_json(scope: Scope) -> bool:
    """As FastAPI decides it: `application/json`, `application/*+json`, or no content type."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return _json_content_type(value)
    return True


@functools.lru_cache(maxsize=64)
def _json_content_type(value: bytes) -> bool:
    # clients send the same few content types: parsing the header costs more than a route
    message = email.message.Message()
    message["content-type"] = value.decode("latin-1")
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def _send_json(send: Send, status: int, payload: object) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})
