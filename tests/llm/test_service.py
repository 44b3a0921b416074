"""The LLM service and its models through the real SDKs, against the fake model server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from taskloom.config import SandboxConfig, Settings
from taskloom.llm import (
    LLMService,
    Message,
    ModelChoice,
    ProviderNotConfigured,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
)
from taskloom.nodes.base import NodeContext, NodeResult, NodeServices
from taskloom.nodes.classifier import ClassifierConfig, ClassifierNode
from taskloom.nodes.summarizer import SummarizerConfig, SummarizerNode
from taskloom.sandbox import SandboxPool
from tests.llm.conftest import ANTHROPIC_KEY, OPENAI_KEY, SECRETS, llm_settings
from tests.support.fake_llm import FakeLLM, Reply

PROVIDERS = ["openai", "anthropic"]
SCHEMA = {
    "type": "object",
    "properties": {"group_id": {"type": "string", "enum": ["a", "b"]}},
    "required": ["group_id"],
}


class Sleeps:
    """Records backoff waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def service(
    fake_llm: FakeLLM, llm_overrides: dict[str, Any], sleeps: Sleeps
) -> AsyncIterator[LLMService]:
    config = Settings(**llm_settings(fake_llm, **llm_overrides)).llm()
    async with LLMService(config, sleep=sleeps) as service:
        yield service


async def ask(service: LLMService, provider: str, **kwargs: Any) -> Any:
    model = await service.model(ModelChoice(model_provider=provider, model_name=f"{provider}-test"))
    return await model.complete(
        [Message("user", "which group?")],
        system=kwargs.pop("system", "be brief"),
        idempotency_key=kwargs.pop("idempotency_key", "task/1/node@1/0"),
        timeout_s=kwargs.pop("timeout_s", 10.0),
        **kwargs,
    )


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_complete_returns_text_and_usage(
    service: LLMService, fake_llm: FakeLLM, provider: str
) -> None:
    fake_llm.script(Reply.say("group a", input_tokens=40, output_tokens=2))
    completion = await ask(service, provider)
    assert completion.text == "group a"
    assert completion.data is None
    assert completion.usage.as_dict() == {
        "prompt_tokens": 40,
        "completion_tokens": 2,
        "total_tokens": 42,
    }
    [request] = fake_llm.requests
    assert request.api == provider
    assert request.body["model"] == f"{provider}-test"
    assert "be brief" in str(request.body)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_complete_with_schema_forces_the_answer_tool(
    service: LLMService, fake_llm: FakeLLM, provider: str
) -> None:
    fake_llm.script(Reply.tool("answer", {"group_id": "b"}))
    completion = await ask(service, provider, output_schema=SCHEMA)
    assert completion.data == {"group_id": "b"}
    [request] = fake_llm.requests
    [tool] = request.body["tools"]
    assert (tool.get("function") or tool)["name"] == "answer"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_complete_sends_the_server_key_to_the_configured_endpoint(
    service: LLMService, fake_llm: FakeLLM, provider: str
) -> None:
    fake_llm.script(Reply.say("ok"))
    await ask(service, provider)
    key = OPENAI_KEY if provider == "openai" else ANTHROPIC_KEY
    headers = fake_llm.requests[0].headers
    assert key in (headers.get("authorization", "") + headers.get("x-api-key", ""))


async def test_complete_sends_no_key_to_an_allowed_endpoint(
    service: LLMService, fake_llm: FakeLLM
) -> None:
    fake_llm.script(Reply.say("ok"))
    base = fake_llm.openai_base_url.replace("127.0.0.1", "localhost")
    model = await service.model(ModelChoice(model_provider="local", llm_api_base=base))
    await model.complete([Message("user", "hi")], system="", idempotency_key="k", timeout_s=10)
    headers = fake_llm.requests[0].headers
    assert not any(secret in str(headers) for secret in SECRETS)


async def test_model_for_an_endpoint_not_allowed_is_refused(service: LLMService) -> None:
    with pytest.raises(ProviderNotConfigured):
        await service.model(ModelChoice(llm_api_base="http://127.0.0.2:1/v1"))


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_rate_limit_then_success_retries_with_the_same_key(
    service: LLMService, fake_llm: FakeLLM, sleeps: Sleeps, provider: str
) -> None:
    fake_llm.script(Reply.error(429, "slow down"), Reply.say("done"))
    completion = await ask(service, provider, idempotency_key="t/1/n@1/0")
    assert completion.text == "done"
    assert [r.headers["idempotency-key"] for r in fake_llm.requests] == ["t/1/n@1/0"] * 2
    assert len(sleeps.waits) == 1


async def test_retry_after_is_honoured_up_to_the_cap(
    service: LLMService, fake_llm: FakeLLM, sleeps: Sleeps
) -> None:
    fake_llm.script(Reply.error(429, "wait", headers={"retry-after": "30"}), Reply.say("ok"))
    await ask(service, "openai")
    assert sleeps.waits == [0.05]  # llm_max_backoff_s in these tests


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_server_errors_exhaust_the_retries(
    service: LLMService, fake_llm: FakeLLM, sleeps: Sleeps, provider: str
) -> None:
    fake_llm.script(*[Reply.error(500, "boom")] * 3)
    with pytest.raises(ProviderUnavailable) as caught:
        await ask(service, provider)
    assert caught.value.reason == "provider_unavailable"
    assert "3 attempts" in str(caught.value)
    assert "HTTP 500" in str(caught.value)
    assert len(fake_llm.requests) == 3
    assert len(sleeps.waits) == 2


@pytest.mark.parametrize("llm_overrides", [{"llm_max_retries": 1}])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_slow_provider_times_out(
    service: LLMService, fake_llm: FakeLLM, provider: str
) -> None:
    fake_llm.script(Reply.hang(10.0), Reply.hang(10.0))
    with pytest.raises(ProviderTimeout) as caught:
        await ask(service, provider, timeout_s=0.3)
    assert caught.value.reason == "provider_timeout"
    assert len(fake_llm.requests) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_rejected_request_is_not_retried_and_hides_the_key(
    service: LLMService,
    fake_llm: FakeLLM,
    provider: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = OPENAI_KEY if provider == "openai" else ANTHROPIC_KEY
    fake_llm.script(Reply.error(401, f"Incorrect API key provided: {key}"))
    with pytest.raises(ProviderRejected) as caught:
        await ask(service, provider)
    assert len(fake_llm.requests) == 1
    assert "HTTP 401" in str(caught.value)
    assert key not in str(caught.value)
    assert not any(secret in caplog.text for secret in SECRETS)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_retries_log_without_credentials(
    service: LLMService, fake_llm: FakeLLM, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_llm.script(Reply.error(503, "busy"), Reply.say("ok"))
    await ask(service, provider)
    [retry] = [r for r in caplog.records if getattr(r, "event", None) == "llm_attempt_failed"]
    assert retry.__dict__["attempt"] == 1
    everything = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert not any(secret in everything for secret in SECRETS)


async def test_closed_service_opens_no_model(fake_llm: FakeLLM) -> None:
    service = LLMService(Settings(**llm_settings(fake_llm)).llm())
    async with service:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        await service.model(ModelChoice())


# -- nodes report their token usage --------------------------------------------------------


async def _no_children(children: Any, data: Any) -> list[tuple[str, Any]]:
    raise AssertionError("no children")


def node_context(service: LLMService) -> NodeContext:
    return NodeContext(
        task_id="t",
        organization_id="o",
        turn=1,
        node_id="n",
        node_name="n",
        idempotency_key="t/1/n@1/0",
        timeout_s=30.0,
        services=NodeServices(sandbox=SandboxPool(SandboxConfig()), llm=service),
        run_children=_no_children,
    )


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_classifier_reports_token_usage(
    service: LLMService, fake_llm: FakeLLM, provider: str
) -> None:
    fake_llm.script(Reply.tool("answer", {"group_id": "b"}, input_tokens=120, output_tokens=9))
    config = ClassifierConfig.model_validate(
        {"groups": [{"id": "a"}, {"id": "b"}], "settings": {"model_provider": provider}}
    )
    result = await ClassifierNode().run(node_context(service), config, "text")
    assert isinstance(result, NodeResult)
    assert result.route == "b"
    assert result.usage is not None
    assert result.usage.as_dict() == {
        "prompt_tokens": 120,
        "completion_tokens": 9,
        "total_tokens": 129,
    }


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_summarizer_reports_token_usage(
    service: LLMService, fake_llm: FakeLLM, provider: str
) -> None:
    fake_llm.script(Reply.say("short", input_tokens=500, output_tokens=20))
    config = SummarizerConfig.model_validate({"settings": {"model_provider": provider}})
    result = await SummarizerNode().run(node_context(service), config, "long text")
    assert isinstance(result, NodeResult)
    assert result.output == "short"
    assert result.usage is not None
    assert result.usage.total_tokens == 520
