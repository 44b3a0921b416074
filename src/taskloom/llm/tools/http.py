"""HTTP actions as agent tools: the model fills the parameters, taskloom makes the request.

GET and DELETE send the arguments as the query string, the other methods as a JSON body.
Every request carries `Idempotency-Key`, derived from the node run and the call's place in it,
so that the receiver can tell a re-run's repeat from a new call. A failed request (refused
address, timeout, non-2xx) is a result the model reads, never an exception. The client is a
checked one (`outbound.py`): the egress rules apply to the address each connection dials.
"""

from __future__ import annotations

import asyncio
import json as json_text
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2

from taskloom.agents.definition import HttpTool
from taskloom.config import LLMConfig
from taskloom.llm.egress import check_scheme
from taskloom.llm.errors import EgressRefused
from taskloom.llm.tools.base import Tool, ToolResult, cut

logger = logging.getLogger(__name__)

_QUERY_METHODS = frozenset({"GET", "DELETE"})
QueryValue = str | list[str]


@dataclass(frozen=True, slots=True)
class HttpAction:
    """One configured HTTP action."""

    spec: HttpTool
    client: httpx2.AsyncClient = field(repr=False)
    timeout_s: float
    limit_bytes: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def parameters(self) -> Mapping[str, Any]:
        return self.spec.parameters

    async def call(self, args: dict[str, Any], *, idempotency_key: str) -> ToolResult:
        method = self.spec.method
        body: dict[str, Any] = {"params": args} if method in _QUERY_METHODS else {"json": args}
        return await send(
            self.client,
            name=self.name,
            method=method,
            url=self.spec.url,
            headers=self.spec.headers,
            idempotency_key=idempotency_key,
            timeout_s=self.timeout_s,
            limit_bytes=self.limit_bytes,
            **body,
        )


async def send(
    client: httpx2.AsyncClient,
    *,
    name: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    idempotency_key: str,
    timeout_s: float,
    limit_bytes: int,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
) -> ToolResult:
    """One request of a tool (an HTTP action, a toolkit operation), as a result the model
    reads: the egress check, the idempotency key, no redirects, a bounded answer, and every
    failure said rather than raised."""
    try:
        async with asyncio.timeout(timeout_s):
            check_scheme(url)
            sent = {
                key: value for key, value in headers.items() if key.lower() != "idempotency-key"
            }
            sent["Idempotency-Key"] = idempotency_key
            # no redirects: a public URL must not bounce the request to an internal address
            request = client.build_request(
                method,
                url,
                headers=sent,
                timeout=timeout_s,
                params=query(params) if params else None,
                json=json,
            )
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                data = await _read_at_most(response, limit_bytes)
            finally:
                await response.aclose()
    except EgressRefused as exc:
        return ToolResult(str(exc), is_error=True)
    except TimeoutError:
        return ToolResult(f"{name} did not answer within {timeout_s:g} s", True)
    except httpx2.HTTPError as exc:
        # the message may quote the URL, and a URL may carry a token: say only what failed
        logger.info(
            "http action failed",
            extra={"event": "tool_http_failed", "tool": name, "error": type(exc).__name__},
        )
        return ToolResult(f"{name} failed: {type(exc).__name__}", is_error=True)
    text = cut(data, limit_bytes)
    if response.is_success:
        return ToolResult(text, status_code=response.status_code)
    return ToolResult(
        f"HTTP {response.status_code}: {text}", is_error=True, status_code=response.status_code
    )


async def _read_at_most(response: httpx2.Response, limit_bytes: int) -> bytes:
    """The body, but stop reading one byte past the limit: the rest is never shown anyway."""
    received = bytearray()
    async for piece in response.aiter_bytes():
        received += piece
        if len(received) > limit_bytes:
            break
    return bytes(received)


def query(args: Mapping[str, Any]) -> dict[str, QueryValue]:
    """Arguments as query parameters: scalars as text, lists repeated, objects as JSON."""
    params: dict[str, QueryValue] = {}
    for name, value in args.items():
        if value is None:
            continue
        if isinstance(value, list):
            params[name] = [_query_value(item) for item in value]
        else:
            params[name] = _query_value(value)
    return params


def _query_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json_text.dumps(value, separators=(",", ":"))


def http_tools(
    specs: Sequence[HttpTool],
    *,
    client: httpx2.AsyncClient,
    config: LLMConfig,
) -> list[Tool]:
    """The agent's HTTP actions as tools, sharing `client` (a checked one, from
    `SharedHttpClient`, which the caller owns)."""
    return [
        HttpAction(
            spec=spec,
            client=client,
            timeout_s=config.tool_timeout_s,
            limit_bytes=config.tool_result_limit_bytes,
        )
        for spec in specs
    ]
