"""MCP tools from a real MCP server on 127.0.0.1, over streamable-http and sse."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from taskloom.agents.definition import MCPServer
from taskloom.config import EgressConfig, LLMConfig
from taskloom.llm import LLMService, Message, ModelChoice
from taskloom.llm.agent import AgentRun, run_agent
from taskloom.llm.errors import EgressRefused, ToolError
from taskloom.llm.loop import AgentLoop  # imported at collection, not in the first test's time
from taskloom.llm.tools.http_client import SharedHttpClient
from taskloom.llm.tools.mcp import mcp_tools
from tests.llm.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.fake_mcp import FakeMCP

TRANSPORTS = ["streamable-http", "sse"]
assert AgentLoop
LOOPBACK = EgressConfig(allowed_networks=("127.0.0.0/8",))
CONFIG = LLMConfig(tool_timeout_s=2.0)


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[FakeMCP]:
    with FakeMCP() as fake:
        yield fake


@pytest.fixture
def fake_mcp(mcp_server: FakeMCP) -> FakeMCP:
    mcp_server.reset()
    return mcp_server


@pytest.fixture
async def http() -> AsyncIterator[SharedHttpClient]:
    shared = SharedHttpClient(LOOPBACK)
    try:
        yield shared
    finally:
        await shared.aclose()


def server(fake: FakeMCP, transport: str, **extra: Any) -> MCPServer:
    url = fake.sse_url if transport == "sse" else fake.streamable_http_url
    return MCPServer(name="calc", url=url, transport=transport, **extra)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tools_are_listed_and_called(
    fake_mcp: FakeMCP, http: SharedHttpClient, transport: str
) -> None:
    async with mcp_tools([server(fake_mcp, transport)], http=http, config=CONFIG) as tools:
        by_name = {tool.name: tool for tool in tools}
        assert set(by_name) == {"add", "shout", "fail"}
        assert by_name["add"].description == "Add two integers."
        assert by_name["add"].parameters["required"] == ["a", "b"]
        added = await by_name["add"].call({"a": 2, "b": 3}, idempotency_key="k/0")
        failed = await by_name["fail"].call({}, idempotency_key="k/1")
    assert added.text == "5"
    assert not added.is_error
    assert failed.is_error
    assert "Error executing tool fail" in failed.text


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_allowed_tools_headers_and_api_key(
    fake_mcp: FakeMCP, http: SharedHttpClient, transport: str
) -> None:
    spec = server(
        fake_mcp,
        transport,
        allowed_tools=["shout"],
        headers={"X-Tenant": "acme", "Authorization": "Basic replaced"},
        api_key="mcp-secret-token",
    )
    async with mcp_tools([spec], http=http, config=CONFIG) as tools:
        assert [tool.name for tool in tools] == ["shout"]
    assert fake_mcp.headers
    for headers in fake_mcp.headers:
        assert headers["x-tenant"] == "acme"
        assert headers["authorization"] == "Bearer mcp-secret-token"


async def test_a_local_server_is_refused(http: SharedHttpClient) -> None:
    local = MCPServer(name="shell", type="local", transport="stdio")
    with pytest.raises(ToolError, match="local"):
        async with mcp_tools([local], http=http, config=CONFIG):
            pass


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_private_address_is_refused_without_the_allow_list(
    fake_mcp: FakeMCP, transport: str
) -> None:
    closed = SharedHttpClient(EgressConfig())
    try:
        with pytest.raises(EgressRefused, match=r"127\.0\.0\.1"):
            async with mcp_tools([server(fake_mcp, transport)], http=closed, config=CONFIG):
                pass
    finally:
        await closed.aclose()
    assert fake_mcp.headers == []


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_unreachable_server_is_a_tool_error(
    http: SharedHttpClient, transport: str
) -> None:
    gone = MCPServer(name="gone", url="http://127.0.0.1:9/mcp", transport=transport)
    with pytest.raises(ToolError, match="cannot use MCP server 'gone'"):
        async with mcp_tools([gone], http=http, config=CONFIG):
            pass


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_agent_calls_an_mcp_tool(
    fake_mcp: FakeMCP, fake_llm: FakeLLM, http: SharedHttpClient, transport: str
) -> None:
    config = LLMConfig(
        openai_base_url=fake_llm.openai_base_url,
        anthropic_base_url=fake_llm.anthropic_base_url,
        openai_api_key=SecretStr(OPENAI_KEY),
        anthropic_api_key=SecretStr(ANTHROPIC_KEY),
    )
    fake_llm.script(Reply.tool("add", {"a": 20, "b": 22}), Reply.say("The sum is 42."))
    events: list[tuple[str, Any]] = []

    async def emit(kind: str, data: Any) -> None:
        events.append((kind, data))

    async with (
        LLMService(config) as service,
        mcp_tools([server(fake_mcp, transport)], http=http, config=config) as tools,
    ):
        run = AgentRun(
            system="You add numbers.",
            messages=[Message("user", "20 + 22?")],
            tools=tools,
            output_schema=None,
            tool_call_limit=3,
            output_retries=0,
            idempotency_key="t/agent@1",
            node_id="agent",
            timeout_s=5.0,
        )
        outcome = await run_agent(service, ModelChoice(model_provider="openai"), run, emit)
    assert outcome.text == "The sum is 42."
    results = [data for kind, data in events if kind == "tool_call_result"]
    assert [(r["tool_name"], r["result"], r["is_error"]) for r in results] == [("add", "42", False)]
    assert "42" in json.dumps(fake_llm.requests[1].body)
