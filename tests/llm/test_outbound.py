"""The checked transport: one resolution per connection, the rules on exactly the addresses it
dials, the host name kept for Host, SNI and certificates. Names are answered by resolvers the
tests control; every socket goes to a real server on loopback."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from taskloom.agents.definition import HttpTool
from taskloom.config import EgressConfig, LLMConfig
from taskloom.llm import LLMService, Message, ModelChoice
from taskloom.llm.egress import EgressPolicy, IPAddress
from taskloom.llm.errors import EgressRefused
from taskloom.llm.outbound import Outbound
from taskloom.llm.tools.http import http_tools
from taskloom.llm.tools.http_client import SharedHttpClient
from tests.support.fake_actions import FakeActions
from tests.support.fake_llm import FakeLLM, Reply

CONFIG = LLMConfig(tool_timeout_s=5.0)


@pytest.fixture(scope="module")
def actions_server() -> Iterator[FakeActions]:
    with FakeActions() as fake:
        yield fake


@pytest.fixture
def actions(actions_server: FakeActions) -> FakeActions:
    actions_server.reset()
    return actions_server


def port_of(url: str) -> int:
    port = urlsplit(url).port
    if port is None:
        raise ValueError(f"{url} has no port")
    return port


@dataclass
class Resolver:
    """Answers each name from a script: the next answer per lookup, the last one repeated."""

    answers: dict[str, list[str]]
    asked: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        script = self.answers[host]
        answer = script.pop(0) if len(script) > 1 else script[0]
        return [ipaddress.ip_address(answer)]


async def call_action(http: SharedHttpClient, url: str) -> Any:
    [action] = http_tools(
        [HttpTool(name="probe", url=url, method="GET")], client=http.get(), config=CONFIG
    )
    try:
        return await action.call({}, idempotency_key="k")
    finally:
        await http.aclose()


# -- DNS rebinding -----------------------------------------------------------------------------


async def test_a_name_rebound_to_loopback_after_the_check_never_reaches_loopback(
    actions: FakeActions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The system resolver path: the first lookup of `rebind.test` answers an allowed address,
    every later one loopback (where the receiver listens). A check that resolves, then lets the
    client resolve again, would send the request to the receiver."""
    loop = asyncio.get_running_loop()
    real_getaddrinfo = loop.getaddrinfo
    answers = ["127.0.0.2"]  # allow-listed below; nothing listens there

    async def rebinding_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name != "rebind.test":
            return await real_getaddrinfo(host, port, *args, **kwargs)
        address = answers.pop(0) if answers else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]

    monkeypatch.setattr(loop, "getaddrinfo", rebinding_getaddrinfo)
    http = SharedHttpClient(EgressConfig(allowed_networks=("127.0.0.2/32",)))
    result = await call_action(http, f"http://rebind.test:{port_of(actions.url)}/secret")
    assert result.is_error
    assert result.text == "probe failed: ConnectError"  # 127.0.0.2, the address it checked
    assert answers == []  # resolved once
    assert actions.received == []


async def test_each_connection_resolves_once_and_dials_the_address_it_checked(
    actions: FakeActions,
) -> None:
    resolver = Resolver({"api.test": ["127.0.0.1", "10.9.9.9"]})
    http = SharedHttpClient(EgressConfig(allowed_networks=("127.0.0.0/8",)), resolve=resolver)
    result = await call_action(http, f"http://api.test:{port_of(actions.url)}/orders")
    assert not result.is_error
    assert resolver.asked == ["api.test"]
    [received] = actions.received
    assert received.headers["host"] == f"api.test:{port_of(actions.url)}"


# -- the rules at connect time -----------------------------------------------------------------


async def test_a_name_resolving_to_a_private_address_is_refused(actions: FakeActions) -> None:
    resolver = Resolver({"intranet.test": ["127.0.0.1"]})
    http = SharedHttpClient(EgressConfig(), resolve=resolver)
    result = await call_action(http, f"http://intranet.test:{port_of(actions.url)}/")
    assert result.is_error
    assert "'intranet.test' resolves to the non-public address 127.0.0.1" in result.text
    assert actions.received == []


@pytest.mark.parametrize(
    "egress",
    [
        EgressConfig(allowed_networks=("127.0.0.0/8",)),
        EgressConfig(allowed_hosts=("intranet.test",)),
    ],
    ids=["network", "host"],
)
async def test_a_name_resolving_to_a_private_address_passes_when_allow_listed(
    actions: FakeActions, egress: EgressConfig
) -> None:
    resolver = Resolver({"intranet.test": ["127.0.0.1"]})
    result = await call_action(
        SharedHttpClient(egress, resolve=resolver), f"http://intranet.test:{port_of(actions.url)}/"
    )
    assert not result.is_error
    assert len(actions.received) == 1


async def test_an_ip_literal_is_checked_without_a_lookup(actions: FakeActions) -> None:
    resolver = Resolver({})
    result = await call_action(SharedHttpClient(EgressConfig(), resolve=resolver), actions.url)
    assert "non-public address 127.0.0.1" in result.text
    assert resolver.asked == []
    assert actions.received == []


async def test_a_refusal_reaches_the_caller_of_the_client_as_egress_refused(
    actions: FakeActions,
) -> None:
    outbound = Outbound(EgressPolicy.from_config(EgressConfig()))
    async with outbound.client() as client:
        with pytest.raises(EgressRefused):
            await client.get(actions.url)


# -- model endpoints ---------------------------------------------------------------------------


async def test_model_calls_go_through_the_checked_transport(fake_llm: FakeLLM) -> None:
    """`models.test` exists only in the test's resolver: the SDK's request can only have been
    sent through taskloom's transport."""
    base = f"http://models.test:{port_of(fake_llm.url)}"
    resolver = Resolver({"models.test": ["127.0.0.1"]})
    config = LLMConfig(openai_base_url=f"{base}/v1", anthropic_base_url=base)
    fake_llm.script(Reply.say("hello"), Reply.say("bonjour"))
    async with LLMService(config, resolve=resolver) as service:
        for provider in ("openai", "anthropic"):
            model = await service.model(ModelChoice(model_provider=provider, model_name="m"))
            answer = await model.complete(
                [Message("user", "hi")], system="", idempotency_key="k", timeout_s=5.0
            )
            assert answer.text in ("hello", "bonjour")
    assert resolver.asked == ["models.test", "models.test"]
    assert [request.headers["host"] for request in fake_llm.requests] == [
        f"models.test:{port_of(fake_llm.url)}"
    ] * 2


# -- TLS keeps the host name -------------------------------------------------------------------


@dataclass
class TlsServer:
    url_port: int
    ca: ssl.SSLContext
    server_names: list[str | None]
    request_heads: list[bytes]


def _certificate(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture
async def tls_server(tmp_path: Any) -> AsyncIterator[TlsServer]:
    """An HTTPS server on 127.0.0.1 whose certificate names only `secure.test`."""
    cert_pem, key_pem = _certificate("secure.test")
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names: list[str | None] = []
    heads: list[bytes] = []

    def remember_name(_: Any, name: str | None, __: Any) -> None:
        names.append(name)

    context.sni_callback = remember_name

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    ca = ssl.create_default_context(cadata=cert_pem.decode())
    async with server:
        yield TlsServer(port, ca, names, heads)


async def test_tls_uses_the_host_name_for_sni_and_the_certificate(tls_server: TlsServer) -> None:
    resolver = Resolver({"secure.test": ["127.0.0.1"]})
    policy = EgressPolicy.from_config(EgressConfig(allowed_networks=("127.0.0.0/8",)))
    outbound = Outbound(policy, resolve=resolver, verify=tls_server.ca)
    async with outbound.client() as client:
        response = await client.get(f"https://secure.test:{tls_server.url_port}/")
    assert response.text == "ok"
    assert tls_server.server_names == ["secure.test"]
    [head] = tls_server.request_heads
    assert f"host: secure.test:{tls_server.url_port}".encode() in head.lower()


async def test_tls_refuses_a_certificate_for_another_name(tls_server: TlsServer) -> None:
    import httpx2

    resolver = Resolver({"other.test": ["127.0.0.1"]})
    policy = EgressPolicy.from_config(EgressConfig(allowed_networks=("127.0.0.0/8",)))
    outbound = Outbound(policy, resolve=resolver, verify=tls_server.ca)
    async with outbound.client() as client:
        with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"https://other.test:{tls_server.url_port}/")
    assert tls_server.request_heads == []


async def test_clients_of_one_opener_share_its_ssl_context_and_each_still_verifies(
    tls_server: TlsServer,
) -> None:
    """The context is built once per opener (loading the CA bundle is the costly part); the
    host-name check is per connection, so sharing it lets no wrong certificate through."""
    import httpx2

    resolver = Resolver({"secure.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    policy = EgressPolicy.from_config(EgressConfig(allowed_networks=("127.0.0.0/8",)))
    outbound = Outbound(policy, resolve=resolver, verify=tls_server.ca)
    assert outbound.ssl_context() is outbound.ssl_context()
    async with outbound.client() as first, outbound.client() as second:
        assert (await first.get(f"https://secure.test:{tls_server.url_port}/")).text == "ok"
        with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await second.get(f"https://other.test:{tls_server.url_port}/")
        assert (await second.get(f"https://secure.test:{tls_server.url_port}/")).text == "ok"
    assert tls_server.server_names == ["secure.test", "other.test", "secure.test"]
