"""HTTP actions against a real receiver on 127.0.0.1 (allowed by the egress allow-list), through
the real checked client (`SharedHttpClient`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from taskloom.agents.definition import HttpTool
from taskloom.config import EgressConfig, LLMConfig
from taskloom.llm.tools.base import Tool
from taskloom.llm.tools.http import http_tools
from taskloom.llm.tools.http_client import SharedHttpClient
from tests.support.fake_actions import FakeActions

LOOPBACK = EgressConfig(allowed_networks=("127.0.0.0/8",))
CONFIG = LLMConfig(tool_timeout_s=0.5, tool_result_limit_bytes=100)


@pytest.fixture(scope="module")
def actions_server() -> Iterator[FakeActions]:
    with FakeActions() as fake:
        yield fake


@pytest.fixture
def actions(actions_server: FakeActions) -> FakeActions:
    actions_server.reset()
    return actions_server


@pytest.fixture
async def http() -> AsyncIterator[SharedHttpClient]:
    shared = SharedHttpClient(LOOPBACK)
    try:
        yield shared
    finally:
        await shared.aclose()


def tool(http: SharedHttpClient, url: str, **spec: Any) -> Tool:
    [only] = http_tools(
        [HttpTool(name="action", url=url, **spec)], client=http.get(), config=CONFIG
    )
    return only


async def test_post_sends_json_headers_and_the_idempotency_key(
    actions: FakeActions, http: SharedHttpClient
) -> None:
    action = tool(
        http,
        f"{actions.url}/orders",
        method="POST",
        headers={"X-Token": "t0k", "Idempotency-Key": "user-chosen"},
    )
    result = await action.call({"item": "tea", "count": 2}, idempotency_key="task/node@1/0")
    assert not result.is_error
    assert json.loads(result.text)["echo"] == {"item": "tea", "count": 2}
    [received] = actions.received
    assert received.method == "POST"
    assert received.body == {"item": "tea", "count": 2}
    assert received.headers["x-token"] == "t0k"
    assert received.headers["idempotency-key"] == "task/node@1/0"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_get_and_delete_send_the_query(
    actions: FakeActions, http: SharedHttpClient, method: str
) -> None:
    action = tool(http, f"{actions.url}/search", method=method)
    args = {"q": "tea", "limit": 3, "exact": True, "tags": ["a", "b"], "filter": {"x": 1}}
    result = await action.call(args, idempotency_key="k/1")
    assert not result.is_error
    [received] = actions.received
    assert received.method == method
    assert received.body is None
    assert received.query == {
        "q": ["tea"],
        "limit": ["3"],
        "exact": ["true"],
        "tags": ["a", "b"],
        "filter": ['{"x":1}'],
    }
    assert received.headers["idempotency-key"] == "k/1"


async def test_a_failed_status_is_an_error_result(
    actions: FakeActions, http: SharedHttpClient
) -> None:
    result = await tool(http, f"{actions.url}/status/503").call({}, idempotency_key="k")
    assert result.is_error
    assert result.text == "HTTP 503: status 503"


async def test_a_slow_action_times_out(actions: FakeActions, http: SharedHttpClient) -> None:
    action = tool(http, f"{actions.url}/slow?delay=1", method="GET")
    result = await action.call({}, idempotency_key="k")
    assert result.is_error
    assert "did not answer within 0.5 s" in result.text


async def test_a_long_answer_is_cut(actions: FakeActions, http: SharedHttpClient) -> None:
    action = tool(http, f"{actions.url}/big?size=5000", method="GET")
    result = await action.call({}, idempotency_key="k")
    assert not result.is_error
    assert result.text == "x" * 100 + "\n[truncated]"


async def test_a_refused_address_is_an_error_result_and_sends_nothing(
    actions: FakeActions,
) -> None:
    closed = SharedHttpClient(EgressConfig())
    try:
        action = tool(closed, f"{actions.url}/orders")
        result = await action.call({"item": "tea"}, idempotency_key="k")
    finally:
        await closed.aclose()
    assert result.is_error
    assert "non-public address 127.0.0.1" in result.text
    assert actions.received == []


async def test_an_unreachable_action_is_an_error_result(http: SharedHttpClient) -> None:
    result = await tool(http, "http://127.0.0.1:9/closed").call({}, idempotency_key="k")
    assert result.is_error
    assert result.text == "action failed: ConnectError"
