"""Every outbound HTTP request taskloom makes: an httpx2 transport that resolves a host once,
checks the addresses against the egress rules and connects to exactly the address it checked.

HTTP actions, MCP sessions and the model providers' SDK clients all get their `httpx2` client
from `Outbound.client()`. The check sits in the network backend, below httpx2's connection
pool, so it runs for every new connection (the first request, a redirect, a reconnect) and
nothing can reach a socket without it. Only the socket is dialed at the checked address: the
URL, the Host header and TLS (SNI and certificate verification) keep the original host name,
since httpcore2 takes them from the request's origin, not from what `connect_tcp` dials.

Environment proxies are not used (`trust_env=False`): a proxy would resolve and connect on its
own side, past the check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore2
import httpx2

from taskloom.llm.egress import EgressPolicy, IPAddress

Resolve = Callable[[str, int], Awaitable[list[IPAddress]]]
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    """The host's addresses from the system resolver, in its order, without repeats."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for info in infos:
        # sockaddr[0] of an IPv6 link-local address may carry a zone ("fe80::1%eth0")
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class CheckedBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2's network backend, with the egress rules between the name and the socket."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolve: Resolve = system_resolve,
        inner: httpcore2.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolve = resolve
        self._inner = inner if inner is not None else httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore2's interface names it so
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        addresses = await self._addresses(host, port, timeout)
        self._policy.check(host, addresses)  # EgressRefused goes up through httpx2 untouched
        failure: httpcore2.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore2.ConnectError as exc:  # the next address may answer
                failure = exc
        raise failure or httpcore2.ConnectError(f"cannot connect to {host!r}")

    async def _addresses(self, host: str, port: int, timeout_s: float | None) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            async with asyncio.timeout(timeout_s):
                return await self._resolve(host, port)
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(f"resolving {host!r} timed out") from exc
        except OSError as exc:
            raise httpcore2.ConnectError(f"cannot resolve host {host!r}: {exc}") from exc

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore2's interface names it so
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("outbound requests use TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class CheckedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's own transport (its request mapping and error translation), whose connection
    pool dials through a `CheckedBackend`."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolve: Resolve = system_resolve,
        verify: ssl.SSLContext | bool = True,
        limits: httpx2.Limits | None = None,
    ) -> None:
        context = httpx2.create_ssl_context(verify=verify, trust_env=False)
        limits = limits or httpx2.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(verify=context, trust_env=False, limits=limits)
        if not isinstance(getattr(self, "_pool", None), httpcore2.AsyncConnectionPool):
            # fail loudly at startup rather than send requests around the check
            raise RuntimeError("this httpx2 version builds its transport differently")
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=CheckedBackend(policy, resolve=resolve),
        )


class Outbound:
    """Opens clients that all go through the same rules and resolver. Each client owns its
    transport and pool; the caller closes the client. The clients share one SSL context:
    building one loads the CA bundle (tens of milliseconds), and a context holds no
    per-connection state."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolve: Resolve = system_resolve,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.policy = policy
        self._resolve = resolve
        self._verify = verify
        self._context: ssl.SSLContext | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """The context every client of this opener verifies its peers with, built once."""
        if self._context is None:
            self._context = httpx2.create_ssl_context(verify=self._verify, trust_env=False)
        return self._context

    def client(self, *, limits: httpx2.Limits | None = None, **options: Any) -> httpx2.AsyncClient:
        """An `httpx2.AsyncClient` (`options` as its own: headers, timeout, auth,
        follow_redirects, which is off unless given)."""
        options.setdefault("follow_redirects", False)
        transport = CheckedTransport(
            self.policy, resolve=self._resolve, verify=self.ssl_context(), limits=limits
        )
        return httpx2.AsyncClient(transport=transport, trust_env=False, **options)
