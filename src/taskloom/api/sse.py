"""Server-sent events in the contract's format (docs/events.md): `id: <seq>`, one `data:` line."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse

from taskloom.api.params import INT32_MAX
from taskloom.engine.wire import iso
from taskloom.store.records import EventRecord

_HEADERS = {"Cache-Control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"}


def encode(event: EventRecord, organization_id: str) -> bytes:
    envelope = {
        "type": event.type,
        "task_id": event.task_id,
        "organization_id": organization_id,
        "time": iso(event.created_at),
        "data": event.data,
    }
    payload = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.seq}\ndata: {payload}\n\n".encode()


def stream(events: AsyncIterator[EventRecord], organization_id: str) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        async for event in events:
            yield encode(event, organization_id)

    return StreamingResponse(body(), media_type="text/event-stream", headers=_HEADERS)


def parse_last_event_id(value: str | None) -> int:
    """`Last-Event-ID` as a sequence number; absent means from the start."""
    if value is None or value == "":
        return 0
    # event sequence numbers are 32-bit columns: a larger one names no event
    if not (value.isascii() and value.isdigit()) or len(value) > 10 or int(value) > INT32_MAX:
        problem = f"Last-Event-ID must be an event sequence number (0 to {INT32_MAX})"
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ["header", "Last-Event-ID"],
                    "msg": problem,
                    "input": value,
                }
            ]
        )
    return int(value)
