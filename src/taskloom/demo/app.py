"""The demo model's HTTP face: OpenAI's `/v1/chat/completions` (streamed or not) and
`/v1/models`, enough for taskloom's LLM nodes and any OpenAI client. No key is asked for.

Usage is always sent, counted by the model's own tokenizer: in a streamed reply as a last
chunk when `stream_options.include_usage` asks for it, as OpenAI does.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from taskloom.demo.model import MODEL_ID, Answer, ChatMessage, ContextOverflow, DemoModel


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_call_id, tool_calls, refusal, ...
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[_Part] | None = None


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """What the demo reads of a chat completion request; the rest (tools, model, ...) is
    accepted and ignored: the one small model answers in text."""

    model_config = ConfigDict(extra="allow")
    messages: list[_Message] = Field(min_length=1)
    stream: bool = False
    stream_options: _StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)


def chat_messages(request: ChatRequest) -> list[ChatMessage]:
    """The conversation in the three roles the model's template knows. A tool's result
    becomes a user message saying so; text parts of a message are joined."""
    found: list[ChatMessage] = []
    for message in request.messages:
        content = message.content
        if isinstance(content, list):
            content = "".join(part.text or "" for part in content if part.type == "text")
        text = content or ""
        if message.role == "tool":
            found.append(ChatMessage("user", f"Tool result: {text}"))
        elif message.role == "developer":
            found.append(ChatMessage("system", text))
        else:
            found.append(ChatMessage(message.role, text))
    return found


def usage_json(answer: Answer) -> dict[str, int]:
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
    }


def create_app(model: DemoModel) -> FastAPI:
    app = FastAPI(title="taskloom demo model", docs_url=None, redoc_url=None)

    @app.exception_handler(ContextOverflow)
    async def overflow(_request: Request, exc: ContextOverflow) -> JSONResponse:
        # FastAPI's shape for taskloom's habits, OpenAI's beside it for OpenAI clients
        error = {"message": str(exc), "type": "invalid_request_error", "code": "context_length"}
        return JSONResponse({"detail": str(exc), "error": error}, status_code=400)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}  # the model loads before the server listens

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        entry = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "taskloom-demo"}
        return {"object": "list", "data": [entry]}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(body: ChatRequest) -> dict[str, Any] | StreamingResponse:
        messages = chat_messages(body)
        max_tokens = body.max_completion_tokens or body.max_tokens
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        if body.stream:
            await asyncio.to_thread(model.check, messages, max_tokens=max_tokens)
            include_usage = body.stream_options is not None and body.stream_options.include_usage
            chunks = _stream(model, messages, max_tokens, body.temperature, completion_id)
            return StreamingResponse(
                _sse(chunks, include_usage=include_usage), media_type="text/event-stream"
            )
        answer = await asyncio.to_thread(
            model.answer, messages, max_tokens=max_tokens, temperature=body.temperature
        )
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL_ID,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "logprobs": None,
                    "finish_reason": answer.finish_reason,
                }
            ],
            "usage": usage_json(answer),
        }

    return app


def _chunk(completion_id: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


async def _stream(
    model: DemoModel,
    messages: list[ChatMessage],
    max_tokens: int | None,
    temperature: float | None,
    completion_id: str,
) -> AsyncIterator[dict[str, Any]]:
    """The chunks of a streamed answer, the usage chunk last. The model writes in a worker
    thread; a client that goes away sets `cancelled`, and the thread stops at its next token
    (it holds the model until then, so the next request waits for it)."""
    loop = asyncio.get_running_loop()
    fragments: asyncio.Queue[str | None] = asyncio.Queue()
    cancelled = threading.Event()

    def on_text(text: str) -> None:
        loop.call_soon_threadsafe(fragments.put_nowait, text)

    def write() -> Answer:
        try:
            return model.stream(
                messages,
                max_tokens=max_tokens,
                temperature=temperature,
                on_text=on_text,
                cancelled=cancelled,
            )
        finally:
            loop.call_soon_threadsafe(fragments.put_nowait, None)

    writing = loop.run_in_executor(None, write)
    try:
        yield _chunk(completion_id, {"role": "assistant", "content": ""}, None)
        while (fragment := await fragments.get()) is not None:
            yield _chunk(completion_id, {"content": fragment}, None)
        answer = await writing
    finally:
        cancelled.set()
    yield _chunk(completion_id, {}, answer.finish_reason)
    usage = _chunk(completion_id, {}, None)
    usage["choices"] = []
    usage["usage"] = usage_json(answer)
    yield usage


async def _sse(chunks: AsyncIterator[dict[str, Any]], *, include_usage: bool) -> AsyncIterator[str]:
    async for chunk in chunks:
        if chunk.get("usage") is not None and not include_usage:
            continue
        yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"
