"""Which tool URLs the egress check lets through (IP literals and loopback names: no network)."""

from __future__ import annotations

import pytest

from taskloom.config import EgressConfig
from taskloom.llm.errors import EgressRefused
from taskloom.llm.tools.egress import check_url

CLOSED = EgressConfig()

REFUSED = [
    "http://127.0.0.1:8080/hook",
    "http://10.1.2.3/",
    "http://172.16.0.9/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]:9000/",
    "http://[fe80::1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://100.64.0.1/",
    "http://localhost:8000/",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(EgressRefused, match="non-public address") as raised:
        await check_url(url, CLOSED)
    assert raised.value.reason == "egress_refused"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "gopher://x/", "x"])
async def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(EgressRefused, match="scheme"):
        await check_url(url, CLOSED)


async def test_public_addresses_pass() -> None:
    await check_url("https://8.8.8.8/dns", CLOSED)
    await check_url("http://[2606:4700:4700::1111]/", CLOSED)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/", "http://10.1.2.3/", "http://169.254.1.1/", "http://[::1]/"]
)
async def test_allowed_networks_let_addresses_through(url: str) -> None:
    egress = EgressConfig(allowed_networks=("127.0.0.0/8", "10.0.0.0/8", "169.254.0.0/16", "::1"))
    await check_url(url, egress)


async def test_allowed_hosts_let_a_name_through_whatever_it_resolves_to() -> None:
    await check_url("http://localhost:8000/", EgressConfig(allowed_hosts=("LOCALHOST",)))


async def test_a_network_that_does_not_cover_the_address_does_not_help() -> None:
    with pytest.raises(EgressRefused):
        await check_url("http://10.1.2.3/", EgressConfig(allowed_networks=("127.0.0.0/8",)))
