"""Fake model servers on 127.0.0.1: the OpenAI chat-completions and Anthropic messages wire formats.

One real HTTP server (Starlette under uvicorn, in a thread with its own event loop) answers both
`POST /v1/chat/completions` and `POST /v1/messages`, so the real `openai` and `anthropic` client
libraries run against it unchanged. Tests script the replies in order (text, tool calls, HTTP
errors, delays), and every request is recorded with its headers and JSON body.

    with FakeLLM() as fake:
        fake.script(Reply.error(429), Reply.tool("pick", {"group_id": "a"}))
        ...  # point a client at fake.openai_base_url or fake.anthropic_base_url
        assert fake.requests[-1].body["model"] == "gpt-test"
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Api = Literal["openai", "anthropic"]

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer: a message (text and/or tool calls) or an HTTP error, maybe late."""

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    status: int = 200
    error_message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait this long before answering (the client may time out first)
    input_tokens: int = 11
    output_tokens: int = 7
    # False: an OpenAI-compatible reply with no usage at all, streamed or not, even when the
    # request asks for it (llama.cpp's server does this); Anthropic replies always carry it
    usage: bool = True

    @classmethod
    def say(cls, text: str, **extra: Any) -> Reply:
        return cls(text=text, **extra)

    @classmethod
    def tool(cls, name: str, arguments: dict[str, Any], **extra: Any) -> Reply:
        return cls(tool_calls=(ToolCall(name, arguments),), **extra)

    @classmethod
    def tools(cls, *calls: tuple[str, dict[str, Any]], **extra: Any) -> Reply:
        """Several tool calls in one turn (the model may ask for them to run together)."""
        return cls(
            tool_calls=tuple(ToolCall(name, arguments) for name, arguments in calls), **extra
        )

    @classmethod
    def error(cls, status: int, message: str = "", **extra: Any) -> Reply:
        return cls(status=status, error_message=message or f"fake error {status}", **extra)

    @classmethod
    def hang(cls, delay_s: float) -> Reply:
        return cls(text="too late", delay_s=delay_s)


@dataclass(frozen=True, slots=True)
class Recorded:
    api: Api
    path: str
    headers: dict[str, str]  # lowercased names
    body: dict[str, Any]


class FakeLLM:
    """Both model APIs on one loopback port, with scripted replies and recorded requests."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._replies: deque[Reply] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()

    # -- scripting -------------------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered in order; a request with none left gets HTTP 418."""
        with self._lock:
            self._replies.extend(replies)

    def reset(self) -> None:
        """Forget recorded requests and unanswered replies (between tests)."""
        with self._lock:
            self._replies.clear()
            self.requests.clear()

    @property
    def pending(self) -> int:
        return len(self._replies)

    @property
    def url(self) -> str:
        if self._socket is None:
            raise RuntimeError("FakeLLM is not started")
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeLLM:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self._socket = sock
        config = uvicorn.Config(
            self._app(), log_config=None, log_level="warning", access_log=False, lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-llm", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("fake model server did not start")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._loop is not None and self._stopping is not None:
            # wake delayed replies so that shutdown does not wait for them
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- the app ---------------------------------------------------------------------------

    def _app(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            self._ready.set()
            yield

        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/v1/messages", self._anthropic, methods=["POST"]),
            ],
            lifespan=lifespan,
        )

    async def _take(self, api: Api, request: Request) -> tuple[Reply | None, dict[str, Any]]:
        body = await request.json()
        headers = {name.lower(): value for name, value in request.headers.items()}
        with self._lock:
            self.requests.append(Recorded(api, request.url.path, headers, body))
            reply = self._replies.popleft() if self._replies else None
        if reply is not None and reply.delay_s > 0 and self._stopping is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=reply.delay_s)
        return reply, body

    async def _openai(self, request: Request) -> Response:
        reply, body = await self._take("openai", request)
        if reply is None:
            return _openai_error(418, "fake: no scripted reply left", {})
        if reply.status != 200:
            return _openai_error(reply.status, reply.error_message, reply.headers)
        model = str(body.get("model", "gpt-fake"))
        completion_id = f"chatcmpl-{next(self._ids)}"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = openai_chunks(reply, model, completion_id, include_usage=include_usage)
            return _sse(_openai_event(chunk) for chunk in chunks)
        return JSONResponse(openai_completion(reply, model, completion_id), headers=reply.headers)

    async def _anthropic(self, request: Request) -> Response:
        reply, body = await self._take("anthropic", request)
        if reply is None:
            return _anthropic_error(418, "fake: no scripted reply left", {})
        if reply.status != 200:
            return _anthropic_error(reply.status, reply.error_message, reply.headers)
        model = str(body.get("model", "claude-fake"))
        message_id = f"msg_{next(self._ids):04d}"
        if body.get("stream"):
            events = anthropic_events(reply, model, message_id)
            return _sse(f"event: {kind}\ndata: {json.dumps(data)}\n\n" for kind, data in events)
        return JSONResponse(anthropic_message(reply, model, message_id), headers=reply.headers)


# -- OpenAI chat completions -----------------------------------------------------------------


def _openai_tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{index}",
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
        }
        for index, call in enumerate(reply.tool_calls)
    ]


def _openai_usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def openai_completion(reply: Reply, model: str, completion_id: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = _openai_tool_calls(reply)
    completion: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
    }
    if reply.usage:
        completion["usage"] = _openai_usage(reply)
    return completion


def openai_chunks(
    reply: Reply, model: str, completion_id: str, *, include_usage: bool
) -> Iterator[dict[str, Any] | str]:
    """The `chat.completion.chunk` objects of a streamed reply, then the `[DONE]` marker."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(reply.text or ""):
        yield chunk({"content": piece})
    for index, call in enumerate(reply.tool_calls):
        opening = {"name": call.name, "arguments": ""}
        start = {"index": index, "id": f"call_{index}", "type": "function", "function": opening}
        yield chunk({"tool_calls": [start]})
        for piece in _pieces(json.dumps(call.arguments)):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, "tool_calls" if reply.tool_calls else "stop")
    if include_usage and reply.usage:
        final = chunk({})
        final["choices"] = []
        final["usage"] = _openai_usage(reply)
        yield final
    yield "[DONE]"


def _openai_error(status: int, message: str, headers: Mapping[str, str]) -> Response:
    kind = "rate_limit_exceeded" if status == 429 else "server_error" if status >= 500 else None
    error = {
        "message": message,
        "type": kind or "invalid_request_error",
        "param": None,
        "code": kind,
    }
    return JSONResponse({"error": error}, status_code=status, headers=dict(headers))


# -- Anthropic messages ----------------------------------------------------------------------


def _anthropic_content(reply: Reply) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    content.extend(
        {"type": "tool_use", "id": f"toolu_{index:02d}", "name": call.name, "input": call.arguments}
        for index, call in enumerate(reply.tool_calls)
    )
    return content


def anthropic_message(reply: Reply, model: str, message_id: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _anthropic_content(reply),
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
    }


def anthropic_events(reply: Reply, model: str, message_id: str) -> Iterator[tuple[str, Any]]:
    """The named server-sent events of a streamed Messages API reply."""
    start = anthropic_message(reply, model, message_id)
    start.update(content=[], stop_reason=None)
    start["usage"] = {"input_tokens": reply.input_tokens, "output_tokens": 1}
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(_anthropic_content(reply)):
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"])]
        else:
            opening = {**block, "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": piece}
                for piece in _pieces(json.dumps(block["input"]))
            ]
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": opening,
            },
        )
        for delta in deltas:
            event = {"type": "content_block_delta", "index": index, "delta": delta}
            yield "content_block_delta", event
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    stop_reason = "tool_use" if reply.tool_calls else "end_turn"
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _anthropic_error(status: int, message: str, headers: Mapping[str, str]) -> Response:
    kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return JSONResponse(body, status_code=status, headers=dict(headers))


# -- shared ----------------------------------------------------------------------------------


def _pieces(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _openai_event(chunk: dict[str, Any] | str) -> str:
    return f"data: {chunk if isinstance(chunk, str) else json.dumps(chunk)}\n\n"


def _sse(events: Iterator[str]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for event in events:
            yield event.encode()

    return StreamingResponse(body(), media_type="text/event-stream")
