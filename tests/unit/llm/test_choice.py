"""Model choice resolution without I/O: defaults, providers, where keys may go."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from taskloom.config import LLMConfig
from taskloom.llm.choice import ModelChoice, extra_headers, resolve
from taskloom.llm.errors import ProviderNotConfigured

OPENAI_KEY = "sk-openai-unit-0123456789"
ANTHROPIC_KEY = "sk-ant-unit-0123456789"


def config(**overrides: Any) -> LLMConfig:
    values: dict[str, Any] = {
        "openai_api_key": SecretStr(OPENAI_KEY),
        "anthropic_api_key": SecretStr(ANTHROPIC_KEY),
    }
    values.update(overrides)
    return LLMConfig(**values)


def choice(**fields: Any) -> ModelChoice:
    return ModelChoice.model_validate(fields)


def test_resolve_without_settings_uses_the_default_provider_and_model() -> None:
    endpoint = resolve(choice(), config())
    assert (endpoint.api, endpoint.provider, endpoint.model) == ("openai", "openai", "gpt-4o-mini")
    assert endpoint.base_url == "https://api.openai.com/v1"
    assert endpoint.api_key == OPENAI_KEY


def test_resolve_anthropic_uses_the_anthropic_key_and_base() -> None:
    endpoint = resolve(choice(model_provider="Anthropic", model_name="claude-x"), config())
    assert (endpoint.api, endpoint.model) == ("anthropic", "claude-x")
    assert endpoint.base_url == "https://api.anthropic.com"
    assert endpoint.api_key == ANTHROPIC_KEY


def test_resolve_configured_base_with_trailing_slash_still_gets_the_key() -> None:
    endpoint = resolve(choice(llm_api_base="https://api.openai.com/v1/"), config())
    assert endpoint.api_key == OPENAI_KEY


def test_resolve_allowed_base_gets_no_key() -> None:
    cfg = config(allowed_api_bases=("http://vllm.local:8000/v1",))
    endpoint = resolve(choice(model_provider="vllm", llm_api_base="http://vllm.local:8000/v1"), cfg)
    assert (endpoint.api, endpoint.provider) == ("openai", "vllm")
    assert endpoint.api_key is None


def test_resolve_unlisted_base_is_refused__the_key_never_goes_there() -> None:
    with pytest.raises(ProviderNotConfigured, match="not allowed"):
        resolve(choice(llm_api_base="https://attacker.example/v1"), config())


def test_resolve_unlisted_base_for_anthropic_is_refused() -> None:
    with pytest.raises(ProviderNotConfigured, match="not allowed"):
        resolve(choice(model_provider="anthropic", llm_api_base="http://x.example"), config())


def test_resolve_unknown_provider_without_base_is_not_configured() -> None:
    with pytest.raises(ProviderNotConfigured, match="amazon_bedrock"):
        resolve(choice(model_provider="amazon_bedrock"), config())


def test_resolve_official_endpoint_without_key_is_not_configured() -> None:
    with pytest.raises(ProviderNotConfigured, match="OPENAI_API_KEY"):
        resolve(choice(), config(openai_api_key=None))


def test_resolve_own_endpoint_without_key_is_fine() -> None:
    cfg = config(openai_api_key=None, openai_base_url="http://127.0.0.1:9/v1")
    assert resolve(choice(), cfg).api_key is None


def test_resolve_credentials_in_the_workflow_are_never_used() -> None:
    endpoint = resolve(choice(llm_credentials={"name": "k", "value": "sk-from-workflow"}), config())
    assert endpoint.api_key == OPENAI_KEY


def test_endpoint_repr_hides_the_key() -> None:
    assert OPENAI_KEY not in repr(resolve(choice(), config()))


def test_config_repr_hides_the_keys() -> None:
    assert OPENAI_KEY not in repr(config())
    assert ANTHROPIC_KEY not in repr(config())


def test_extra_headers_drop_credential_headers() -> None:
    headers = {"X-Team": "a", "Authorization": "Bearer x", "x-api-key": "y", " Api-Key ": "z"}
    assert extra_headers(choice(llm_extra_headers=headers)) == {"X-Team": "a"}
