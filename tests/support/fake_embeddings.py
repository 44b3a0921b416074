"""An OpenAI-compatible embeddings server on 127.0.0.1: `POST /v1/embeddings` answers
`{"object": "list", "data": [{"object": "embedding", "index", "embedding"}], "model", "usage"}`
as OpenAI does. Its vectors are bags of hashed words (64 dimensions): texts that share words
are close, so retrieval through it is meaningful, and the same text always gets the same
vector. It records every request; `fail_next` makes the next requests answer 503;
`hold_after(n)` makes every request after the first `n` wait until `release()` (a test then
knows the caller is mid-way)."""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.threaded import ThreadedServer

DIMENSION = 64


def bag_of_words(text: str) -> list[float]:
    vector = [0.0] * DIMENSION
    for word in re.findall(r"\w+", text.lower()):
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIMENSION] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class FakeEmbeddings:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.fail_next = 0
        self._hold_after: int | None = None
        self._released = threading.Event()
        self.held = threading.Event()  # set when a request is being held
        self._lock = threading.Lock()
        self._server = ThreadedServer(
            Starlette(routes=[Route("/v1/embeddings", self._embeddings, methods=["POST"])]),
            name="fake-embeddings",
        )

    @property
    def base_url(self) -> str:
        return f"{self._server.url}/v1"

    def hold_after(self, answered: int) -> None:
        self._hold_after = answered
        self._released.clear()

    def release(self) -> None:
        self._hold_after = None
        self._released.set()

    async def _embeddings(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            hold = self._hold_after is not None and len(self.requests) >= self._hold_after
        if hold:
            self.held.set()
            await asyncio.to_thread(self._released.wait, 60)
        with self._lock:
            self.requests.append(body)
            self.headers.append({k.lower(): v for k, v in request.headers.items()})
            if self.fail_next > 0:
                self.fail_next -= 1
                return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": i, "embedding": bag_of_words(text)}
                    for i, text in enumerate(texts)
                ],
                "model": body["model"],
                "usage": {"prompt_tokens": 0, "total_tokens": 0},
            }
        )

    def __enter__(self) -> FakeEmbeddings:
        self._server.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.stop()
