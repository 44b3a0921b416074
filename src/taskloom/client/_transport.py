"""The httpx settings both clients share: base URL, the API key header, timeouts."""

from __future__ import annotations

from typing import Any

import httpx

from taskloom import __version__


def client_options(base_url: str, api_key: str | None, timeout_s: float) -> dict[str, Any]:
    headers = {"User-Agent": f"taskloom-client/{__version__}"}
    if api_key:
        headers["x-api-key"] = api_key
    return {"base_url": base_url.rstrip("/"), "headers": headers, "timeout": timeout_s}


def stream_timeout(http: httpx.Client | httpx.AsyncClient) -> httpx.Timeout:
    """An event stream may stay quiet while a node runs: no read timeout, the rest as usual."""
    return httpx.Timeout(http.timeout.connect, read=None)
