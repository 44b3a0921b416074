"""Where an agent's tools may connect: public http(s) addresses, and what the operator allows.

A tool URL comes from a user, and the server sits inside someone's network: without this check
an agent could read cloud metadata (169.254.169.254), the database or any internal service.
Every address the host resolves to must be public, so that a name with one public and one
private record cannot slip through. A host in `allowed_hosts`, or an address in one of
`allowed_networks`, is let through.

The check resolves the name itself; the HTTP client resolves it again when it connects, so a
name whose records change between the two (DNS rebinding) is not caught here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from taskloom.config import EgressConfig
from taskloom.llm.errors import EgressRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES = frozenset({"http", "https"})


def is_public(address: IPAddress) -> bool:
    """False for private, loopback, link-local, multicast, reserved, unspecified and other
    non-global addresses, including IPv4 ones written as IPv6 (`::ffff:10.0.0.1`)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _allowed(address: IPAddress, egress: EgressConfig) -> bool:
    for network in egress.allowed_networks:
        if address in ipaddress.ip_network(network, strict=False):
            return True
    return False


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise EgressRefused(f"cannot resolve host {host!r}: {exc.strerror or exc}") from exc
    # sockaddr[0] of an IPv6 link-local address may carry a zone ("fe80::1%eth0")
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_url(url: str, egress: EgressConfig) -> None:
    """Raise `EgressRefused` unless a tool may connect to `url`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise EgressRefused(f"tool URL scheme {scheme or '(none)'!r} is not allowed: use http(s)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise EgressRefused("tool URL has no host")
    if host in {allowed.strip().lower().rstrip(".") for allowed in egress.allowed_hosts}:
        return
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise EgressRefused(f"tool URL has an invalid port: {exc}") from exc
    addresses = await _addresses(host, port)
    if not addresses:
        raise EgressRefused(f"host {host!r} has no address")
    for address in addresses:
        if not is_public(address) and not _allowed(address, egress):
            raise EgressRefused(
                f"host {host!r} resolves to the non-public address {address}, which is not "
                "allowed (see TASKLOOM_EGRESS_ALLOWED_HOSTS / TASKLOOM_EGRESS_ALLOWED_NETWORKS)"
            )
