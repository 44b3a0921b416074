"""HTTP actions as agent tools: the model fills the parameters, taskloom makes the request.

GET and DELETE send the arguments as the query string, the other methods as a JSON body.
Every request carries `Idempotency-Key`, derived from the node run and the call's place in it,
so that the receiver can tell a re-run's repeat from a new call. A failed request (refused
address, timeout, non-2xx) is a result the model reads, never an exception. The client is a
checked one (`outbound.py`): the egress rules apply to the address each connection dials.
"""

from __future__ import annotations

import asyncio
import json
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
        try:
            async with asyncio.timeout(self.timeout_s):
                check_scheme(self.spec.url)
                return await self._send(args, idempotency_key)
        except EgressRefused as exc:
            return ToolResult(str(exc), is_error=True)
        except TimeoutError:
            return ToolResult(f"{self.name} did not answer within {self.timeout_s:g} s", True)
        except httpx2.HTTPError as exc:
            # the message may quote the URL, and a URL may carry a token: say only what failed
            logger.info(
                "http action failed",
                extra={"event": "tool_http_failed", "tool": self.name, "error": type(exc).__name__},
            )
            return ToolResult(f"{self.name} failed: {type(exc).__name__}", is_error=True)

    async def _send(self, args: dict[str, Any], idempotency_key: str) -> ToolResult:
        method = self.spec.method
        headers = {
            name: value
            for name, value in self.spec.headers.items()
            if name.lower() != "idempotency-key"
        }
        headers["Idempotency-Key"] = idempotency_key
        body: dict[str, Any] = (
            {"params": query(args)} if method in _QUERY_METHODS else {"json": args}
        )
        # no redirects: a public URL must not bounce the request to an internal address
        request = self.client.build_request(
            method, self.spec.url, headers=headers, timeout=self.timeout_s, **body
        )
        response = await self.client.send(request, stream=True, follow_redirects=False)
        try:
            data = await _read_at_most(response, self.limit_bytes)
        finally:
            await response.aclose()
        text = cut(data, self.limit_bytes)
        if response.is_success:
            return ToolResult(text)
        return ToolResult(f"HTTP {response.status_code}: {text}", is_error=True)


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
    return json.dumps(value, separators=(",", ":"))


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
