"""Every error the client raises on purpose.

ClientError
├── TransportError          the server could not be reached, or the connection broke
│   └── StreamInterrupted   an event stream kept failing after its reconnects
└── ApiError                the server answered 4xx or 5xx; `.status_code`, `.detail`
    ├── BadRequest          400, 413: the request was refused as it stands
    ├── Unauthorized        401: the API key is missing or unknown
    ├── Forbidden           403
    ├── NotFound            404: no such workflow, agent or task in this organization
    ├── Conflict            409: e.g. a turn sent while the task's last one runs
    ├── ValidationFailed    422: the body or a parameter does not fit the contract
    ├── RateLimited         429
    └── ServerError         5xx
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

__all__ = [
    "ApiError",
    "BadRequest",
    "ClientError",
    "Conflict",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "ServerError",
    "StreamInterrupted",
    "TransportError",
    "Unauthorized",
    "ValidationFailed",
]


class ClientError(Exception):
    """Base of every error `taskloom.client` raises."""


class TransportError(ClientError):
    """The server could not be reached, or the connection broke mid-request."""


class StreamInterrupted(TransportError):
    """An event stream failed more times in a row than its reconnect budget allows."""


class ApiError(ClientError):
    """The server answered with an error status; `detail` is the API's `{"detail": ...}`."""

    def __init__(self, status_code: int, detail: Any) -> None:
        self.status_code = status_code
        self.detail = detail
        super().__init__(f"{status_code}: {describe(detail)}")


class BadRequest(ApiError):
    """400 or 413: the request was refused as it stands."""


class Unauthorized(ApiError):
    """401: the API key is missing or unknown."""


class Forbidden(ApiError):
    """403: the key may not do this."""


class NotFound(ApiError):
    """404: no such resource in the key's organization."""


class Conflict(ApiError):
    """409: the request clashes with the resource's state (e.g. a turn already running)."""


class ValidationFailed(ApiError):
    """422: the body or a parameter does not fit the contract; `detail` lists the errors."""


class RateLimited(ApiError):
    """429: a limit was reached."""


class ServerError(ApiError):
    """5xx: the server failed; the request may succeed later."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: BadRequest,
    422: ValidationFailed,
    429: RateLimited,
}


def describe(detail: Any) -> str:
    """A one-line reading of a `detail`: FastAPI's 422 list becomes `loc: msg; ...`."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", ()))
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def error_for(response: httpx.Response) -> ApiError:
    """The exception for an error response, carrying its `detail` (or its text)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body["detail"] if isinstance(body, dict) and "detail" in body else response.text
    code = response.status_code
    cls = _BY_STATUS.get(code, ServerError if code >= 500 else ApiError)
    return cls(code, detail)


@contextmanager
def mapped_transport_errors() -> Iterator[None]:
    """The one place httpx's transport errors become ours."""
    try:
        yield
    except httpx.TransportError as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc
