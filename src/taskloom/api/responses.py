"""JSON replies rendered once, straight to bytes.

A route that returns a dict has FastAPI validate it against the annotation and walk it with
`jsonable_encoder` before rendering: several times the cost of the rendering itself for a
Task. Our payloads are plain JSON already, so routes return this response instead.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response


def render_json(content: Any) -> bytes:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return render_json(content)


class ErrorReply(BaseModel):
    """Every error but 422 (FastAPI's list of problems): `{"detail": "<what went wrong>"}`."""

    detail: str


_MEANING = {
    401: "missing or unknown `x-api-key`",
    404: "not found, or another organization's",
    409: "conflicts with the current state (e.g. a task's turn still running)",
    413: "request body larger than the server's `max_body_bytes`",
    429: "a limit on how often it may run was reached: retry after `Retry-After` seconds",
    502: "the API a tool calls refused the call or was not reached (its status and answer "
    "beside `detail`)",
    503: "the store is unavailable for now: retry after `Retry-After` seconds",
}


def error_replies(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, in the shape they are sent."""
    return {status: {"model": ErrorReply, "description": _MEANING[status]} for status in statuses}


# what any authenticated route may answer besides its own reply and 422
COMMON_ERRORS = error_replies(401, 404, 503)
