"""A webhook's own headers (`Authorization: Bearer ...`, a receiver's token) kept sealed.

A stored definition shows a header's name and REDACTED in place of its value; the value is
kept beside it in `sealed_headers`, encrypted with the server's secret key and bound to the
origin of the webhook's URL, as an agent tool's credential is: whoever may edit the
workflow may point the URL elsewhere, and the value then stays behind. A client that sends
the definition back with REDACTED keeps the stored value; a new value replaces it.

A task keeps the sealed values only; the sending process opens them just before the POST.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from taskloom import errors
from taskloom.agents.credentials import REDACTED, bind, unbind

Seal = Callable[[str], str]
Unseal = Callable[[str], str]
SEALED_HEADERS = "sealed_headers"  # in a stored webhook entry: header name -> sealed value
NO_KEY = (
    "webhook headers with values are kept only encrypted, and this server has no "
    "TASKLOOM_SECRET_KEY"
)


def stored(entry: dict[str, Any], seal: Seal) -> dict[str, Any]:
    """A webhook entry as a definition keeps it: every header value sealed, shown REDACTED."""
    headers = entry.get("headers")
    if not isinstance(headers, dict):
        return entry
    before = _sealed_of(entry)
    shown: dict[str, str] = {}
    sealed: dict[str, str] = {}
    for name, value in headers.items():
        if value == REDACTED and name in before:
            sealed[name] = before[name]
        elif value:
            try:
                sealed[name] = seal(bind(str(value), entry.get("url")))
            except errors.InvalidRequest as exc:
                raise errors.InvalidRequest(
                    f"{NO_KEY}: start the server with it set, or leave header {name!r} out"
                ) from exc
        shown[str(name)] = REDACTED if name in sealed else str(value)
    kept = {key: item for key, item in entry.items() if key != SEALED_HEADERS}
    return {**kept, "headers": shown, **({SEALED_HEADERS: sealed} if sealed else {})}


def for_task(raw: dict[str, Any], seal: Seal | None) -> dict[str, Any]:
    """What a task keeps of an entry's headers: those without a value in clear, the rest
    sealed (`sealed`), or the reason they cannot be sent (`refused`)."""
    headers = raw.get("headers")
    headers = headers if isinstance(headers, dict) else {}
    before = _sealed_of(raw)
    clear = {str(k): str(v) for k, v in headers.items() if v and v != REDACTED}
    kept = {name: before[name] for name in headers if name in before and name not in clear}
    plain = {str(k): "" for k, v in headers.items() if not v}
    if not clear:
        return {"headers": plain, **({"sealed": json.dumps(kept)} if kept else {})}
    if seal is None:
        return {"headers": plain, "refused": NO_KEY}
    try:
        kept |= {name: seal(bind(value, raw.get("url"))) for name, value in clear.items()}
    except errors.InvalidRequest:
        return {"headers": plain, "refused": NO_KEY}
    return {"headers": plain, "sealed": json.dumps(kept)}


def opened(sealed: str, url: str, unseal: Unseal) -> dict[str, str]:
    """The header values a delivery's `sealed` holds, for `url`; raises errors.InvalidRequest
    (cannot be opened) or errors.NodeFailed (given for another origin)."""
    try:
        found = json.loads(sealed)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise errors.InvalidRequest("the delivery's sealed headers are unreadable")
    return {
        name: unbind(unseal(value), url, what=f"webhook header {name!r}")
        for name, value in found.items()
    }


def _sealed_of(entry: dict[str, Any]) -> dict[str, str]:
    found = entry.get(SEALED_HEADERS)
    if not isinstance(found, dict):
        return {}
    return {str(k): v for k, v in found.items() if isinstance(v, str)}
