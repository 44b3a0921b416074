"""Which model a node asks for, and where that request may go: pure resolution, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from taskloom.config import LLMConfig
from taskloom.llm.errors import ProviderNotConfigured

Api = Literal["openai", "anthropic"]

# hosts whose endpoints never answer without a key: a missing key is a configuration error
_KEYED_HOSTS = frozenset({"api.openai.com", "api.anthropic.com"})
# the model call's own credentials are never taken from a workflow's headers
_RESERVED_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "idempotency-key"})


class ModelChoice(BaseModel):
    """The `settings` block of a classifier, guardrail or summarizer node (docs/nodes.md).

    `llm_credentials_key`, `llm_credentials_key_type` and `llm_credentials` are accepted and
    kept, but not used: a model call is made with the server's own key for its provider.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    model_provider: str | None = None
    model_name: str | None = None
    llm_api_base: str | None = None
    llm_credentials_key: str | None = None
    llm_credentials_key_type: str | None = None
    llm_credentials: Any = Field(default=None, repr=False)
    llm_extra_headers: dict[str, str] | None = Field(default=None, repr=False)
    # how hard a reasoning model thinks; a model without thinking settings ignores it
    reasoning_effort: Literal["low", "medium", "high", "xhigh"] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one model call goes: the wire format, the base URL, the key for it, the model."""

    api: Api
    provider: str  # the name the node gave (or the default), for messages and telemetry
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    # the key is a node's named secret rather than the server's own
    named_key: bool = False


def _normal(url: str) -> str:
    return url.strip().rstrip("/")


def _key(config: LLMConfig, api: Api) -> str | None:
    secret = config.anthropic_api_key if api == "anthropic" else config.openai_api_key
    return secret.get_secret_value() if secret is not None else None


def resolve(choice: ModelChoice, config: LLMConfig, *, api_key: str | None = None) -> Endpoint:
    """The endpoint for `choice`: `anthropic` speaks the Messages API, `openai` and any other
    provider with an `llm_api_base` the OpenAI chat-completions API.

    The server's key for a provider is sent only to the base URL configured for it. Any other
    base URL must be listed in `allowed_api_bases`, and is sent no key. A named `api_key` (a
    stored secret the node names) replaces the server's key; it too goes only to the configured
    base URL or to an allowed one, since resolution refuses every other base.
    """
    provider = (choice.model_provider or config.default_provider).strip().lower()
    if provider == "anthropic":
        api: Api = "anthropic"
        configured, model = config.anthropic_base_url, config.default_anthropic_model
    elif provider == "openai" or choice.llm_api_base:
        api = "openai"
        configured, model = config.openai_base_url, config.default_openai_model
    else:
        raise ProviderNotConfigured(
            f"model provider {provider!r} is not supported: use openai, anthropic, "
            "or an OpenAI-compatible endpoint given as llm_api_base"
        )
    base = _normal(choice.llm_api_base or configured)
    if base == _normal(configured):
        server_key = _key(config, api)
    elif base in {_normal(allowed) for allowed in config.allowed_api_bases}:
        server_key = None
    else:
        raise ProviderNotConfigured(
            f"llm_api_base {base!r} is not allowed on this server "
            "(see TASKLOOM_LLM_ALLOWED_API_BASES)"
        )
    key = api_key or server_key
    if key is None and urlsplit(base).hostname in _KEYED_HOSTS:
        variable = "ANTHROPIC_API_KEY" if api == "anthropic" else "OPENAI_API_KEY"
        raise ProviderNotConfigured(f"no API key for {provider}: set {variable} for the server")
    return Endpoint(
        api=api,
        provider=provider,
        base_url=base,
        model=choice.model_name or model,
        api_key=key,
        named_key=api_key is not None and api_key != "",
    )


def extra_headers(choice: ModelChoice) -> dict[str, str]:
    """The node's own extra headers, less any that would carry or replace credentials."""
    headers = choice.llm_extra_headers or {}
    return {k: v for k, v in headers.items() if k.strip().lower() not in _RESERVED_HEADERS}
