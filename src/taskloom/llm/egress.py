"""Where taskloom may connect: public http(s) addresses, and what the operator allows.

A URL a tool (HTTP action, MCP server, later a webhook) names comes from a user, and the server
sits inside someone's network: without these rules an agent could read cloud metadata
(169.254.169.254), the database or any internal service. Every address a name resolves to must
be public, so that a name with one public and one private record cannot slip through. A host in
`allowed_hosts`, or an address in one of `allowed_networks`, is let through.

These are pure rules over a host and the addresses it resolved to. They are applied where each
connection is made (`outbound.py`), to the very addresses that connection then dials, so a name
whose records change between a check and a connect (DNS rebinding) cannot pass one and reach
the other.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from taskloom.config import EgressConfig
from taskloom.llm.errors import EgressRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

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


def _host(name: str) -> str:
    return name.strip().lower().rstrip(".")


def check_scheme(url: str) -> None:
    """Raise `EgressRefused` unless `url` is http(s) with a host. No DNS: the addresses are
    checked when the connection is made."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise EgressRefused(f"tool URL scheme {scheme or '(none)'!r} is not allowed: use http(s)")
    if not _host(parts.hostname or ""):
        raise EgressRefused("tool URL has no host")
    try:
        parts.port  # noqa: B018 -- reading it validates it
    except ValueError as exc:
        raise EgressRefused(f"tool URL has an invalid port: {exc}") from exc


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """The rules, parsed once: host names let through whatever they resolve to, and networks
    whose addresses are let through although not public."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_config(cls, config: EgressConfig, *, hosts: Iterable[str] = ()) -> EgressPolicy:
        """`hosts` adds names the operator named elsewhere (the model endpoints' base URLs)."""
        try:
            networks = tuple(
                ipaddress.ip_network(network.strip(), strict=False)
                for network in config.allowed_networks
            )
        except ValueError as exc:
            raise ValueError(f"TASKLOOM_EGRESS_ALLOWED_NETWORKS: {exc}") from exc
        names = {_host(host) for host in (*config.allowed_hosts, *hosts)}
        return cls(allowed_hosts=frozenset(names - {""}), allowed_networks=networks)

    def allows_host(self, host: str) -> bool:
        return _host(host) in self.allowed_hosts

    def check(self, host: str, addresses: Sequence[IPAddress]) -> None:
        """Raise `EgressRefused` unless a connection to `host` may use `addresses` (all of
        them: the caller may dial any)."""
        if not addresses:
            raise EgressRefused(f"host {host!r} has no address")
        if self.allows_host(host):
            return
        for address in addresses:
            if not is_public(address) and not self._allowed(address):
                raise EgressRefused(
                    f"host {host!r} resolves to the non-public address {address}, which is not "
                    "allowed (see TASKLOOM_EGRESS_ALLOWED_HOSTS / TASKLOOM_EGRESS_ALLOWED_NETWORKS)"
                )

    def _allowed(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            mapped: IPAddress = address.ipv4_mapped
            if any(mapped in network for network in self.allowed_networks):
                return True
        return any(address in network for network in self.allowed_networks)
