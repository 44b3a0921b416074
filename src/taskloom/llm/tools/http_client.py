"""The HTTP clients agents' tools go through: one shared client for HTTP actions, opened on
first use, and one per MCP session; all of them behind the egress check (`outbound.py`).

httpx2 and its transport cost ~5 MiB of memory: a server that never runs an agent with tools
never loads them.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from taskloom.config import EgressConfig

if TYPE_CHECKING:
    import httpx2

    from taskloom.llm.outbound import Outbound, Resolve


class SharedHttpClient:
    def __init__(
        self,
        egress: EgressConfig,
        *,
        resolve: Resolve | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._egress = egress
        self._resolve = resolve  # tests answer for names of their own
        self._verify = verify
        self._outbound: Outbound | None = None
        self._client: httpx2.AsyncClient | None = None
        self._closed = False

    def _opener(self) -> Outbound:
        if self._closed:
            raise RuntimeError("the HTTP client is closed")
        if self._outbound is None:
            from taskloom.llm.egress import EgressPolicy
            from taskloom.llm.outbound import Outbound, system_resolve

            self._outbound = Outbound(
                EgressPolicy.from_config(self._egress),
                resolve=self._resolve or system_resolve,
                verify=self._verify,
            )
        return self._outbound

    def get(self) -> httpx2.AsyncClient:
        """The client HTTP actions share. Redirects are not followed: an action's answer is
        what its URL says."""
        if self._client is None:
            self._client = self._opener().client()
        return self._client

    def open(self, **options: Any) -> httpx2.AsyncClient:
        """A client of its own (an MCP session's, with its headers), closed by the caller."""
        return self._opener().client(**options)

    async def aclose(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
