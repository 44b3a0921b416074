"""The one shape every agent tool has, whatever is behind it (an HTTP action, an MCP server)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

_TRUNCATED = "\n[truncated]"


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What the model is shown after a call. `is_error` results are answers too: the model
    reads them and may try again; they never end the run."""

    text: str
    is_error: bool = False
    status_code: int | None = None  # an HTTP tool's answer status, when it got one


class Tool(Protocol):
    """A tool the model may call by `name`, with arguments matching `parameters` (a JSON
    Schema object). Implementations turn their own failures into `ToolResult(is_error=True)`."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> Mapping[str, Any]: ...

    async def call(self, args: dict[str, Any], *, idempotency_key: str) -> ToolResult:
        """Run the tool once. `idempotency_key` is the same when a re-run repeats the call."""
        ...


def cut(data: bytes, limit_bytes: int) -> str:
    """`data` as text, no longer than `limit_bytes` bytes of it, marked when cut."""
    if len(data) <= limit_bytes:
        return data.decode("utf-8", errors="replace")
    # a cut may split a multi-byte character: drop the broken tail rather than garble it
    return data[:limit_bytes].decode("utf-8", errors="ignore") + _TRUNCATED


def cut_text(text: str, limit_bytes: int) -> str:
    return cut(text.encode("utf-8"), limit_bytes)
