"""JSON replies rendered once, straight to bytes.

A route that returns a dict has FastAPI validate it against the annotation and walk it with
`jsonable_encoder` before rendering: several times the cost of the rendering itself for a
Task. Our payloads are plain JSON already, so routes return this response instead.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


def render_json(content: Any) -> bytes:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return render_json(content)
