"""The egress rules without I/O: which addresses a host may be dialed at, which URLs pass."""

from __future__ import annotations

import ipaddress

import pytest

from taskloom.config import EgressConfig
from taskloom.llm.egress import EgressPolicy, IPAddress, check_scheme
from taskloom.llm.errors import EgressRefused

CLOSED = EgressPolicy.from_config(EgressConfig())

REFUSED = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.9",
    "192.168.1.1",
    "169.254.169.254",
    "::1",
    "fe80::1",
    "::ffff:10.0.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "100.64.0.1",
]


def addresses(*texts: str) -> list[IPAddress]:
    return [ipaddress.ip_address(text) for text in texts]


@pytest.mark.parametrize("address", REFUSED)
def test_check_refuses_non_public_addresses(address: str) -> None:
    with pytest.raises(EgressRefused, match="non-public address") as raised:
        CLOSED.check("some.host", addresses(address))
    assert raised.value.reason == "egress_refused"


def test_check__one_private_record_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(EgressRefused, match=r"10\.0\.0\.7"):
        CLOSED.check("mixed.example", addresses("8.8.8.8", "10.0.0.7"))


def test_check__a_host_without_addresses_is_refused() -> None:
    with pytest.raises(EgressRefused, match="no address"):
        CLOSED.check("void.example", [])


def test_check_lets_public_addresses_through() -> None:
    CLOSED.check("dns.example", addresses("8.8.8.8", "2606:4700:4700::1111"))


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.1.1", "::1"])
def test_check__allowed_networks_let_addresses_through(address: str) -> None:
    config = EgressConfig(allowed_networks=("127.0.0.0/8", "10.0.0.0/8", "169.254.0.0/16", "::1"))
    EgressPolicy.from_config(config).check("internal", addresses(address))


def test_check__an_allowed_ipv4_network_covers_its_ipv6_mapped_form() -> None:
    policy = EgressPolicy.from_config(EgressConfig(allowed_networks=("127.0.0.0/8",)))
    policy.check("loop", addresses("::ffff:127.0.0.1"))


def test_check__allowed_hosts_let_a_name_through_whatever_it_resolves_to() -> None:
    policy = EgressPolicy.from_config(EgressConfig(allowed_hosts=("LOCALHOST.",)))
    policy.check("localhost", addresses("127.0.0.1"))


def test_check__a_network_that_does_not_cover_the_address_does_not_help() -> None:
    policy = EgressPolicy.from_config(EgressConfig(allowed_networks=("127.0.0.0/8",)))
    with pytest.raises(EgressRefused):
        policy.check("internal", addresses("10.1.2.3"))


def test_from_config__a_bad_network_names_the_setting() -> None:
    with pytest.raises(ValueError, match="TASKLOOM_EGRESS_ALLOWED_NETWORKS"):
        EgressPolicy.from_config(EgressConfig(allowed_networks=("10.0.0.0/33",)))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "gopher://x/", "x"])
def test_check_scheme_refuses_other_schemes(url: str) -> None:
    with pytest.raises(EgressRefused, match="scheme"):
        check_scheme(url)


def test_check_scheme_refuses_a_url_without_host() -> None:
    with pytest.raises(EgressRefused, match="no host"):
        check_scheme("http:///path")


def test_check_scheme_passes_http_and_https() -> None:
    check_scheme("https://api.example.com/v1")
    check_scheme("http://10.0.0.1:8080/")  # addresses are checked when connecting
