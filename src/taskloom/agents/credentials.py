"""Credentials inside definitions and requests: shown masked, never in clear.

A definition may carry secrets in a few known places: `llm_credentials.value`, an MCP
server's `api_key`, `client_secret` and `headers`, an HTTP tool's `headers`. Replies show
them as REDACTED; a client that sends a definition back with REDACTED in those places keeps
the stored value (`restored`), so reading and saving a whole definition loses nothing.
"""

from __future__ import annotations

from typing import Any

REDACTED = "********"
_SECRET_KEYS = frozenset({"value", "api_key", "client_secret"})
_HOLDERS = frozenset({"llm_credentials", "mcp_servers", "tools"})


def redacted(value: Any, *, holder: str = "") -> Any:
    """`value` with every credential in it masked, at any depth (workflow node settings
    included)."""
    if isinstance(value, list):
        return [redacted(item, holder=holder) for item in value]
    if not isinstance(value, dict):
        return value
    masked: dict[str, Any] = {}
    for key, item in value.items():
        if holder in _HOLDERS and item and (key in _SECRET_KEYS or key == "headers"):
            masked[key] = _mask(item)
        else:
            masked[key] = redacted(item, holder=key if key in _HOLDERS else "")
    return masked


def _mask(item: Any) -> Any:
    if isinstance(item, dict):  # headers: names are not secret, values may be
        return dict.fromkeys(item, REDACTED)
    return REDACTED


def restored(sent: Any, stored: Any) -> Any:
    """What a client sent, with each REDACTED put back to the stored value at the same place
    (list items matched by `name`, else `url`, else position)."""
    if sent == REDACTED:
        return stored
    if isinstance(sent, dict) and isinstance(stored, dict):
        return {key: restored(item, stored.get(key)) for key, item in sent.items()}
    if isinstance(sent, list) and isinstance(stored, list):
        return [
            restored(item, _counterpart(item, index, stored)) for index, item in enumerate(sent)
        ]
    return sent


def _counterpart(item: Any, index: int, stored: list[Any]) -> Any:
    if isinstance(item, dict):
        for key in ("name", "url", "id"):
            if item.get(key):
                for candidate in stored:
                    if isinstance(candidate, dict) and candidate.get(key) == item[key]:
                        return candidate
    return stored[index] if index < len(stored) else None
