"""The lean chat-completions client against the fake OpenAI server: for every request it
accepts it sends what the SDK path sends, and reads answers into the same responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from pydantic_ai.direct import model_request, model_request_stream
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.settings import ModelSettings

from taskloom.llm.chat import output_parameters
from taskloom.llm.choice import Endpoint
from taskloom.llm.openai_chat import OpenAIChat
from taskloom.llm.providers import model_for, open_client
from tests.support.fake_llm import FakeLLM, Reply

KEY = "sk-lean-test-1f2e3d"
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
SETTINGS: ModelSettings = {
    "extra_headers": {"X-Team": "blue", "Idempotency-Key": "task/turn/0"},
    "temperature": 0.5,
    "max_tokens": 100,
    "timeout": 5.0,
    "max_retries": 0,
}
# headers only the SDK sends (its own identification), left out of the comparison
SDK_ONLY = ("user-agent", "x-stainless-", "content-length", "accept-encoding", "connection")


@pytest.fixture
async def pair(fake_llm: FakeLLM) -> AsyncIterator[tuple[OpenAIChatModel, OpenAIChat]]:
    endpoint = Endpoint(
        api="openai",
        provider="openai",
        base_url=fake_llm.openai_base_url,
        model="gpt-test",
        api_key=KEY,
    )
    http = httpx2.AsyncClient()
    client = open_client(endpoint, http)
    model = model_for(endpoint, client)
    assert isinstance(model, OpenAIChatModel)
    try:
        yield model, OpenAIChat(http, base_url=endpoint.base_url, api_key=KEY, sdk_model=model)
    finally:
        await client.close()


def tool_parameters() -> ModelRequestParameters:
    from pydantic_ai.tools import ToolDefinition

    parameters = output_parameters(WEATHER)
    parameters.function_tools = [
        ToolDefinition(name="weather", parameters_json_schema=WEATHER, description="Weather.")
    ]
    return parameters


HISTORY: list[ModelMessage] = [
    ModelRequest(parts=[SystemPromptPart("Be brief."), UserPromptPart("How warm is Paris?")]),
    ModelResponse(
        parts=[TextPart("Let me look."), ToolCallPart("weather", {"city": "Paris"}, "c1")]
    ),
    ModelRequest(parts=[ToolReturnPart("weather", '{"t": 21}', "c1")]),
    ModelResponse(parts=[ToolCallPart("weather", '{"city": "Lyon"}', "c2")]),
    ModelRequest(parts=[ToolReturnPart("weather", "no such city", "c2", outcome="failed")]),
]


def sent(fake: FakeLLM) -> tuple[dict[str, Any], dict[str, str]]:
    request = fake.requests[-1]
    headers = {k: v for k, v in request.headers.items() if not k.startswith(SDK_ONLY)}
    return request.body, headers


async def sdk_then_lean(
    fake: FakeLLM,
    pair: tuple[OpenAIChatModel, OpenAIChat],
    history: list[ModelMessage],
    parameters: ModelRequestParameters,
    *,
    stream: bool,
) -> tuple[ModelResponse, ModelResponse, list[str]]:
    sdk, lean = pair
    assert lean.accepts(history, parameters, SETTINGS)
    fragments: list[str] = []

    async def collect(fragment: str) -> None:
        fragments.append(fragment)

    if stream:
        async with model_request_stream(
            sdk, history, model_settings=SETTINGS, model_request_parameters=parameters
        ) as events:
            async for _ in events:
                pass
            by_sdk = events.get()
    else:
        by_sdk = await model_request(
            sdk, history, model_settings=SETTINGS, model_request_parameters=parameters
        )
    body_sdk, headers_sdk = sent(fake)
    by_lean = await lean.request(history, parameters, SETTINGS, on_text=collect if stream else None)
    body_lean, headers_lean = sent(fake)
    assert body_lean == body_sdk
    assert headers_lean == headers_sdk
    return by_sdk, by_lean, fragments


def same_answer(by_sdk: ModelResponse, by_lean: ModelResponse) -> None:
    def shape(response: ModelResponse) -> list[tuple[str, Any, Any]]:
        return [
            (
                type(part).__name__,
                getattr(part, "content", None) or part.tool_name,
                part.args_as_dict() if isinstance(part, ToolCallPart) else None,
            )
            for part in response.parts
            if not (isinstance(part, TextPart) and not part.content)
        ]

    assert shape(by_lean) == shape(by_sdk)
    assert [p.tool_call_id for p in by_lean.parts if isinstance(p, ToolCallPart)] == [
        p.tool_call_id for p in by_sdk.parts if isinstance(p, ToolCallPart)
    ]
    assert by_lean.usage.input_tokens == by_sdk.usage.input_tokens
    assert by_lean.usage.output_tokens == by_sdk.usage.output_tokens
    assert by_lean.model_name == by_sdk.model_name
    assert by_lean.finish_reason == by_sdk.finish_reason


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_a_text_turn_is_sent_and_read_as_the_sdk_does(
    fake_llm: FakeLLM, pair: tuple[OpenAIChatModel, OpenAIChat], stream: bool
) -> None:
    fake_llm.script(Reply.say("It is 21 degrees."), Reply.say("It is 21 degrees."))
    history: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart("How warm?")])]
    by_sdk, by_lean, fragments = await sdk_then_lean(
        fake_llm, pair, history, ModelRequestParameters(), stream=stream
    )
    same_answer(by_sdk, by_lean)
    if stream:
        assert "".join(fragments) == "It is 21 degrees."
        assert len(fragments) > 1  # handed on as they came


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_tools_history_and_tool_calls_are_sent_and_read_as_the_sdk_does(
    fake_llm: FakeLLM, pair: tuple[OpenAIChatModel, OpenAIChat], stream: bool
) -> None:
    calls = (("weather", {"city": "Nice"}), ("answer", {"city": "Nice"}))
    fake_llm.script(Reply.tools(*calls), Reply.tools(*calls))
    by_sdk, by_lean, _ = await sdk_then_lean(
        fake_llm, pair, HISTORY, tool_parameters(), stream=stream
    )
    same_answer(by_sdk, by_lean)
    assert fake_llm.requests[-1].body["tools"][0]["function"]["strict"] is True


async def test_unknown_usage_stays_unknown(
    fake_llm: FakeLLM, pair: tuple[OpenAIChatModel, OpenAIChat]
) -> None:
    fake_llm.script(Reply.say("hi", usage=False), Reply.say("hi", usage=False))
    history: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart("hello")])]
    by_sdk, by_lean, _ = await sdk_then_lean(
        fake_llm, pair, history, ModelRequestParameters(), stream=True
    )
    assert (by_lean.usage.input_tokens, by_lean.usage.output_tokens) == (0, 0)
    same_answer(by_sdk, by_lean)


async def test_an_error_status_is_the_sdk_paths_error(
    fake_llm: FakeLLM, pair: tuple[OpenAIChatModel, OpenAIChat]
) -> None:
    from pydantic_ai.exceptions import ModelHTTPError

    sdk, lean = pair
    history: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart("hello")])]
    failures = []
    for send in (
        lambda: model_request(sdk, history, model_settings=SETTINGS),
        lambda: lean.request(history, ModelRequestParameters(), SETTINGS),
    ):
        fake_llm.script(Reply.error(429, "slow down", headers={"retry-after": "3"}))
        with pytest.raises(ModelHTTPError) as caught:
            await send()
        failures.append(caught.value)
    by_sdk, by_lean = failures
    assert type(by_lean) is type(by_sdk)
    assert (by_lean.status_code, by_lean.retry_after) == (by_sdk.status_code, by_sdk.retry_after)


@pytest.mark.parametrize(
    ("history", "settings"),
    [
        ([ModelRequest(parts=[UserPromptPart("hi <|im_start|>system")])], SETTINGS),
        ([ModelRequest(parts=[UserPromptPart(["a list", "of contents"])])], SETTINGS),
        (
            [
                ModelRequest(parts=[UserPromptPart("hi")]),
                ModelResponse(parts=[ThinkingPart("hmm"), TextPart("yo")]),
                ModelRequest(parts=[UserPromptPart("and?")]),
            ],
            SETTINGS,
        ),
        ([ModelRequest(parts=[UserPromptPart("hi")])], {**SETTINGS, "thinking": "high"}),
    ],
    ids=["special-token", "multipart", "thinking-part", "thinking-setting"],
)
def test_what_it_does_not_know_goes_the_sdk_way(
    pair: tuple[OpenAIChatModel, OpenAIChat],
    history: list[ModelMessage],
    settings: ModelSettings,
) -> None:
    _, lean = pair
    assert not lean.accepts(history, ModelRequestParameters(), settings)


async def test_streamed_calls_reuse_one_connection(fake_llm: FakeLLM) -> None:
    """A stream read to its end leaves its connection to the next call: each new connection
    resolves the name once, so one lookup means one connection for all the calls."""
    from taskloom.config import EgressConfig
    from taskloom.llm.egress import EgressPolicy
    from taskloom.llm.outbound import Outbound
    from tests.llm.test_outbound import Resolver, port_of

    resolver = Resolver({"models.test": ["127.0.0.1"]})
    policy = EgressPolicy.from_config(EgressConfig(allowed_networks=("127.0.0.0/8",)))
    base = f"http://models.test:{port_of(fake_llm.url)}/v1"
    endpoint = Endpoint(api="openai", provider="openai", base_url=base, model="m", api_key=KEY)
    http = Outbound(policy, resolve=resolver).client()
    client = open_client(endpoint, http)
    model = model_for(endpoint, client)
    assert isinstance(model, OpenAIChatModel)
    lean = OpenAIChat(http, base_url=base, api_key=KEY, sdk_model=model)
    history: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart("hello")])]
    fragments: list[str] = []

    async def collect(fragment: str) -> None:
        fragments.append(fragment)

    try:
        for _ in range(3):
            fake_llm.script(Reply.say("hi there"))
            await lean.request(history, ModelRequestParameters(), SETTINGS, on_text=collect)
    finally:
        await client.close()
    assert "".join(fragments) == "hi there" * 3
    assert resolver.asked == ["models.test"]
