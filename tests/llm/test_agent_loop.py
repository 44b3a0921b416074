"""The agent loop through the real SDKs against the fake model server, with real HTTP actions."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from taskloom.agents.definition import HttpTool
from taskloom.config import EgressConfig, LLMConfig
from taskloom.llm import (
    InvalidModelOutput,
    LLMService,
    Message,
    ModelChoice,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    Usage,
)
from taskloom.llm.agent import AgentOutcome, AgentRun, run_agent
from taskloom.llm.errors import ToolCallLimitExceeded
from taskloom.llm.loop import AgentLoop  # imported at collection, not in the first test's time
from taskloom.llm.tools.base import Tool
from taskloom.llm.tools.http import http_tools
from taskloom.llm.tools.http_client import SharedHttpClient
from tests.llm.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.support.fake_actions import FakeActions
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.waiting import eventually

PROVIDERS = ["openai", "anthropic"]
assert AgentLoop
NAMED_KEY = "sk-named-tenant-key-0b1c2d3e4f5a"
LOOPBACK = EgressConfig(allowed_networks=("127.0.0.0/8",))
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temperature": {"type": "integer"}},
    "required": ["city", "temperature"],
}
WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


class Events:
    """The `emit` callback: records (type, data) in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    async def __call__(self, kind: str, data: Any) -> None:
        self.seen.append((kind, data))

    def of(self, kind: str) -> list[Any]:
        return [data for seen_kind, data in self.seen if seen_kind == kind]

    @property
    def text(self) -> str:
        return "".join(self.of("chunk"))


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def actions_server() -> Iterator[FakeActions]:
    with FakeActions() as fake:
        yield fake


@pytest.fixture
def actions(actions_server: FakeActions) -> FakeActions:
    actions_server.reset()
    return actions_server


def llm_config(fake: FakeLLM, **overrides: Any) -> LLMConfig:
    values: dict[str, Any] = {
        "openai_base_url": fake.openai_base_url,
        "anthropic_base_url": fake.anthropic_base_url,
        "openai_api_key": SecretStr(OPENAI_KEY),
        "anthropic_api_key": SecretStr(ANTHROPIC_KEY),
        "max_retries": 2,
        "backoff_s": 0.01,
        "max_backoff_s": 0.05,
        "tool_timeout_s": 2.0,
    }
    values.update(overrides)
    return LLMConfig(**values)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def service(fake_llm: FakeLLM, sleeps: Sleeps) -> AsyncIterator[LLMService]:
    async with LLMService(llm_config(fake_llm), sleep=sleeps) as service:
        yield service


@pytest.fixture
async def http() -> AsyncIterator[SharedHttpClient]:
    shared = SharedHttpClient(LOOPBACK)
    try:
        yield shared
    finally:
        await shared.aclose()


def weather_tools(actions: FakeActions, http: SharedHttpClient, fake: FakeLLM) -> list[Tool]:
    spec = HttpTool(
        name="weather",
        description="The weather in a city.",
        url=f"{actions.url}/weather",
        method="POST",
        parameters=WEATHER_PARAMETERS,
        headers={"X-Team": "blue"},
    )
    return http_tools([spec], client=http.get(), config=llm_config(fake))


def agent_run(tools: list[Tool], **overrides: Any) -> AgentRun:
    values: dict[str, Any] = {
        "system": "You answer questions about the weather.",
        "messages": [Message("user", "How warm is Paris?")],
        "tools": tools,
        "output_schema": None,
        "tool_call_limit": 5,
        "output_retries": 1,
        "idempotency_key": "task-1/agent@1",
        "node_id": "agent-node",
        "timeout_s": 5.0,
    }
    values.update(overrides)
    return AgentRun(**values)


async def run(
    service: LLMService, provider: str, agent: AgentRun, events: Events, **kwargs: Any
) -> AgentOutcome:
    choice = ModelChoice(model_provider=provider, model_name=f"{provider}-test")
    return await run_agent(service, choice, agent, events, **kwargs)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_model_calls_a_tool_then_answers_with_its_result(
    service: LLMService,
    fake_llm: FakeLLM,
    actions: FakeActions,
    http: SharedHttpClient,
    provider: str,
) -> None:
    fake_llm.script(
        Reply.tool("weather", {"city": "Paris"}, input_tokens=30, output_tokens=5),
        Reply.say("Paris is at 21 degrees.", input_tokens=50, output_tokens=8),
    )
    events = Events()
    outcome = await run(
        service, provider, agent_run(weather_tools(actions, http, fake_llm)), events
    )

    assert outcome.text == "Paris is at 21 degrees."
    assert outcome.data is None
    assert outcome.tool_calls == 1
    assert outcome.usage.as_dict() == {
        "prompt_tokens": 80,
        "completion_tokens": 13,
        "total_tokens": 93,
    }
    assert [kind for kind, _ in events.seen][:2] == ["tool_call_request", "tool_call_result"]
    assert events.text == outcome.text
    assert len(events.of("chunk")) > 1  # streamed in fragments, not in one piece
    [request] = events.of("tool_call_request")
    assert request["tool_name"] == request["operation_id"] == "weather"
    assert request["payload"] == {"city": "Paris"}
    assert request["graph_node_id"] == "agent-node"
    assert request["plan_task_id"] is None
    assert set(request["reasoning"]) == {"title", "description"}
    [result] = events.of("tool_call_result")
    assert result["request_id"] == request["request_id"]
    assert result["tool_call_id"] == request["tool_call_id"]
    assert result["is_error"] is False
    assert result["approval_request_id"] is None
    assert json.loads(result["result"]) == {"ok": True, "echo": {"city": "Paris"}}

    [received] = actions.received
    assert received.headers["x-team"] == "blue"
    assert received.headers["idempotency-key"] == "task-1/agent@1/0"
    # the model saw the tool's answer on its second turn
    second = json.dumps(fake_llm.requests[1].body)
    assert "echo" in second
    assert "Paris" in second


async def test_a_turn_without_usage_leaves_the_run_total_unknown(
    service: LLMService, fake_llm: FakeLLM, actions: FakeActions, http: SharedHttpClient
) -> None:
    fake_llm.script(
        Reply.tool("weather", {"city": "Paris"}, input_tokens=30, output_tokens=5),
        Reply.say("Paris is at 21 degrees.", usage=False),
    )
    outcome = await run(
        service, "openai", agent_run(weather_tools(actions, http, fake_llm)), Events()
    )
    assert outcome.text == "Paris is at 21 degrees."
    assert outcome.usage == Usage(prompt_tokens=30, completion_tokens=5, unreported_calls=1)
    assert outcome.usage.as_dict() == {
        "prompt_tokens": 30,
        "completion_tokens": 5,
        "total_tokens": None,
        "unreported_calls": 1,
    }


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_tool_calls_of_one_turn_all_run(
    service: LLMService,
    fake_llm: FakeLLM,
    actions: FakeActions,
    http: SharedHttpClient,
    provider: str,
) -> None:
    fake_llm.script(
        Reply.tools(("weather", {"city": "Paris"}), ("weather", {"city": "Oslo"})),
        Reply.say("Both looked up."),
    )
    events = Events()
    outcome = await run(
        service, provider, agent_run(weather_tools(actions, http, fake_llm)), events
    )
    assert outcome.tool_calls == 2
    assert sorted(r.body["city"] for r in actions.received) == ["Oslo", "Paris"]
    keys = sorted(r.headers["idempotency-key"] for r in actions.received)
    assert keys == ["task-1/agent@1/0", "task-1/agent@1/1"]
    assert [r["is_error"] for r in events.of("tool_call_result")] == [False, False]


async def test_a_rerun_sends_the_same_idempotency_keys(
    service: LLMService, fake_llm: FakeLLM, actions: FakeActions, http: SharedHttpClient
) -> None:
    tools = weather_tools(actions, http, fake_llm)
    for _ in range(2):
        fake_llm.script(Reply.tool("weather", {"city": "Paris"}), Reply.say("done"))
        await run(service, "openai", agent_run(tools), Events())
    first, again = (r.headers["idempotency-key"] for r in actions.received)
    assert first == again == "task-1/agent@1/0"
    model_keys = [r.headers["idempotency-key"] for r in fake_llm.requests]
    assert model_keys == ["task-1/agent@1/turn/0", "task-1/agent@1/turn/1"] * 2


async def test_unknown_tool_and_bad_arguments_are_errors_the_model_sees(
    service: LLMService, fake_llm: FakeLLM, actions: FakeActions, http: SharedHttpClient
) -> None:
    fake_llm.script(
        Reply.tool("teleport", {"to": "Mars"}),
        Reply.tool("weather", {"town": "Paris"}),
        Reply.say("I could not check."),
    )
    events = Events()
    outcome = await run(
        service, "openai", agent_run(weather_tools(actions, http, fake_llm)), events
    )
    assert outcome.text == "I could not check."
    unknown, invalid = events.of("tool_call_result")
    assert unknown["is_error"]
    assert "unknown tool 'teleport'" in unknown["result"]
    assert invalid["is_error"]
    assert "'city' is a required property" in invalid["result"]
    assert actions.received == []  # neither call reached the action
    assert "unknown tool" in json.dumps(fake_llm.requests[1].body)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_too_many_tool_calls_end_the_run(
    service: LLMService,
    fake_llm: FakeLLM,
    actions: FakeActions,
    http: SharedHttpClient,
    provider: str,
) -> None:
    fake_llm.script(*[Reply.tool("weather", {"city": "Paris"})] * 3)
    agent = agent_run(weather_tools(actions, http, fake_llm), tool_call_limit=2)
    with pytest.raises(ToolCallLimitExceeded, match="more than 2 tool calls") as raised:
        await run(service, provider, agent, Events())
    assert raised.value.reason == "tool_call_limit"
    assert len(actions.received) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_structured_answer_through_the_answer_tool(
    service: LLMService, fake_llm: FakeLLM, provider: str
) -> None:
    fake_llm.script(Reply.tool("answer", {"city": "Paris", "temperature": 21}))
    events = Events()
    outcome = await run(service, provider, agent_run([], output_schema=SCHEMA), events)
    assert outcome.data == {"city": "Paris", "temperature": 21}
    assert json.loads(outcome.text) == outcome.data
    assert events.text == outcome.text


async def test_structured_answer_as_json_text(service: LLMService, fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply.say('```json\n{"city": "Oslo", "temperature": 3}\n```'))
    outcome = await run(service, "anthropic", agent_run([], output_schema=SCHEMA), Events())
    assert outcome.data == {"city": "Oslo", "temperature": 3}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_invalid_answer_is_sent_back_and_the_retry_succeeds(
    service: LLMService, fake_llm: FakeLLM, provider: str
) -> None:
    fake_llm.script(
        Reply.tool("answer", {"city": "Paris", "temperature": "warm"}),
        Reply.tool("answer", {"city": "Paris", "temperature": 21}),
    )
    outcome = await run(service, provider, agent_run([], output_schema=SCHEMA), Events())
    assert outcome.data == {"city": "Paris", "temperature": 21}
    assert "'warm' is not of type 'integer'" in json.dumps(fake_llm.requests[1].body)
    assert outcome.usage.prompt_tokens == 22  # both calls counted


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_invalid_answer_twice_is_invalid_model_output(
    service: LLMService, fake_llm: FakeLLM, provider: str
) -> None:
    fake_llm.script(Reply.say("not json at all"), Reply.tool("answer", {"city": "Paris"}))
    with pytest.raises(InvalidModelOutput, match="'temperature' is a required property") as raised:
        await run(service, provider, agent_run([], output_schema=SCHEMA), Events())
    assert raised.value.reason == "invalid_llm_output"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_rate_limit_then_success(
    service: LLMService, fake_llm: FakeLLM, sleeps: Sleeps, provider: str
) -> None:
    fake_llm.script(Reply.error(429, headers={"retry-after": "1"}), Reply.say("fine"))
    outcome = await run(service, provider, agent_run([]), Events())
    assert outcome.text == "fine"
    assert sleeps.waits == [0.05]  # what the provider asked for, up to max_backoff_s
    keys = {r.headers["idempotency-key"] for r in fake_llm.requests}
    assert keys == {"task-1/agent@1/turn/0"}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_server_errors_exhaust_the_retries(
    service: LLMService, fake_llm: FakeLLM, provider: str
) -> None:
    fake_llm.script(*[Reply.error(500)] * 3)
    with pytest.raises(ProviderUnavailable, match="after 3 attempts"):
        await run(service, provider, agent_run([]), Events())
    assert len(fake_llm.requests) == 3


async def test_slow_provider_times_out(service: LLMService, fake_llm: FakeLLM) -> None:
    fake_llm.script(*[Reply.hang(1.0)] * 3)
    with pytest.raises(ProviderTimeout, match=r"within 0\.1 s"):
        await run(service, "openai", agent_run([], timeout_s=0.1), Events())


async def test_cancelling_the_run_stops_it_at_once(service: LLMService, fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply.hang(5.0))
    task = asyncio.create_task(run(service, "anthropic", agent_run([]), Events()))

    async def on_the_wire() -> bool:
        return bool(fake_llm.requests)  # the request reached the fake, which holds it

    await eventually(on_the_wire)
    task.cancel()
    async with asyncio.timeout(1.0):
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_named_key_is_sent_and_never_shown(
    service: LLMService,
    fake_llm: FakeLLM,
    actions: FakeActions,
    http: SharedHttpClient,
    caplog: pytest.LogCaptureFixture,
    provider: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_llm.script(
        Reply.error(429),
        Reply.tool("weather", {"city": "Paris"}),
        Reply.error(401, f"invalid key {NAMED_KEY} (server has {OPENAI_KEY} {ANTHROPIC_KEY})"),
    )
    events = Events()
    tools = weather_tools(actions, http, fake_llm)
    with pytest.raises(ProviderRejected) as raised:
        await run(service, provider, agent_run(tools), events, api_key=NAMED_KEY)

    sent = fake_llm.requests[0].headers
    assert sent["authorization"] == f"Bearer {NAMED_KEY}"
    assert OPENAI_KEY not in json.dumps(sent)
    assert ANTHROPIC_KEY not in json.dumps(sent)
    shown = [str(raised.value), json.dumps(events.seen), caplog.text]
    shown += [json.dumps(record.__dict__, default=str) for record in caplog.records]
    for secret in (NAMED_KEY, OPENAI_KEY, ANTHROPIC_KEY):
        assert all(secret not in text for text in shown)


async def test_server_key_is_never_shown(
    service: LLMService, fake_llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_llm.script(Reply.error(503, f"upstream said {OPENAI_KEY}"), Reply.error(403, OPENAI_KEY))
    events = Events()
    with pytest.raises(ProviderRejected) as raised:
        await run(service, "openai", agent_run([]), events)
    assert fake_llm.requests[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"
    shown = [str(raised.value), json.dumps(events.seen), caplog.text]
    shown += [json.dumps(record.__dict__, default=str) for record in caplog.records]
    assert all(OPENAI_KEY not in text for text in shown)
