"""A fake OpenAI-compatible model server for W2: every chat completion answers after 200 ms.

Run as its own process (`python bench/fake_model.py --delay 0.2`), pinned by the driver to
core 1 beside it, never on the server's core 0; it prints `PORT <n>` once it listens on
127.0.0.1. A minimal HTTP/1.1 server on asyncio (uvloop when installed): keep-alive,
Content-Length request bodies; tens of microseconds of CPU per request, so 500 calls at once
cost it little and its answers are not late because of it.

    POST /v1/chat/completions   the OpenAI wire format after `--delay` seconds: a JSON
                                `chat.completion`, or with `"stream": true` server-sent
                                `chat.completion.chunk` events, `[DONE]` last (usage included
                                when `stream_options.include_usage` asks for it); the reply
                                text is `reply_text(last user message)`
    GET  /stats                 {"requests", "streamed", "in_flight", "peak_in_flight",
                                 "arrivals": [seconds since the first arrival, ...]}
    POST /stats/reset           forget the counts (between workloads)

The shapes are those of tests/support/fake_llm.py (OpenAI chat completions).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

DEFAULT_DELAY_S = 0.2
PROMPT_TOKENS = 11
COMPLETION_TOKENS = 7
_MAX_HEAD = 65_536
_MAX_BODY = 4_194_304
_CREATED = 1_700_000_000


def reply_text(user_text: str) -> str:
    """What the fake model answers to a conversation whose last user message is `user_text`."""
    return f"fake reply to: {user_text}"


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.streamed = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.first = 0.0
        self.arrivals: list[float] = []

    def arrived(self) -> None:
        now = time.perf_counter()
        if not self.arrivals:
            self.first = now
        self.arrivals.append(now - self.first)
        self.requests += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "streamed": self.streamed,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "arrivals": [round(t, 6) for t in self.arrivals],
        }


# -- the OpenAI wire format ------------------------------------------------------------------


def _usage() -> dict[str, int]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }


def completion(text: str, model: str, completion_id: str) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": _CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(),
    }


def chunks(
    text: str, model: str, completion_id: str, *, include_usage: bool
) -> Iterator[dict[str, Any] | str]:
    """The `chat.completion.chunk` objects of a streamed reply, then the `[DONE]` marker."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    yield chunk({"role": "assistant", "content": ""})
    for start in range(0, len(text), 8):
        yield chunk({"content": text[start : start + 8]})
    yield chunk({}, "stop")
    if include_usage:
        final = chunk({})
        final["choices"] = []
        final["usage"] = _usage()
        yield final
    yield "[DONE]"


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):  # content parts
                return "".join(
                    str(part.get("text", "")) for part in content if isinstance(part, dict)
                )
    return ""


# -- HTTP ------------------------------------------------------------------------------------


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _json(status: str, payload: Any) -> bytes:
    return _response(status, "application/json", json.dumps(payload).encode())


class FakeModel:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.stats = Stats()
        self._ids = itertools.count(1)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > _MAX_HEAD:
                    break
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if length > _MAX_BODY or "transfer-encoding" in headers:
                    writer.write(_json("400 Bad Request", {"error": "Content-Length only"}))
                    break
                body = await reader.readexactly(length) if length else b""
                writer.write(await self.answer(method, path.split("?", 1)[0], body))
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        with contextlib.suppress(Exception):
            writer.close()

    async def answer(self, method: str, path: str, raw: bytes) -> bytes:
        if method == "POST" and path == "/v1/chat/completions":
            return await self.chat(raw)
        if method == "GET" and path == "/stats":
            return _json("200 OK", self.stats.as_dict())
        if method == "POST" and path == "/stats/reset":
            self.stats.reset()
            return _json("200 OK", {"reset": True})
        return _json("404 Not Found", {"error": {"message": f"no route {method} {path}"}})

    async def chat(self, raw: bytes) -> bytes:
        self.stats.arrived()
        try:
            await asyncio.sleep(self.delay_s)
            body = json.loads(raw)
            model = str(body.get("model", "fake"))
            completion_id = f"chatcmpl-{next(self._ids)}"
            text = reply_text(last_user_text(body))
            if not body.get("stream"):
                return _json("200 OK", completion(text, model, completion_id))
            self.stats.streamed += 1
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = chunks(text, model, completion_id, include_usage=include_usage)
            sse = "".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events)
            return _response("200 OK", "text/event-stream", sse.encode())
        finally:
            self.stats.in_flight -= 1


async def serve(port: int, delay_s: float) -> None:
    fake = FakeModel(delay_s)
    server = await asyncio.start_server(fake.handle, "127.0.0.1", port, backlog=2048)
    bound = server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--delay", type=float, default=DEFAULT_DELAY_S, metavar="SECONDS")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve(args.port, args.delay))
    sys.exit(0)


if __name__ == "__main__":
    main()
