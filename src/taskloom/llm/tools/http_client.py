"""The HTTP client agents' actions go through: one per process, opened on first use.

httpx and its transport cost ~5 MiB of memory: a server that never runs an agent with HTTP
actions never loads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


class SharedHttpClient:
    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None
        self._closed = False

    def get(self) -> httpx.AsyncClient:
        if self._closed:
            raise RuntimeError("the HTTP client is closed")
        if self._client is None:
            import httpx

            # redirects are not followed: one could lead off the addresses egress allowed
            self._client = httpx.AsyncClient(follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
