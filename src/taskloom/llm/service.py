"""The LLM service nodes get: resolves a node's model choice and owns the provider clients."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from taskloom.config import LLMConfig
from taskloom.llm.base import AgentModel, ChatModel
from taskloom.llm.choice import Endpoint, ModelChoice, extra_headers, resolve
from taskloom.llm.retry import RetryPolicy, Sleep

if TYPE_CHECKING:
    from pydantic_ai.settings import ModelSettings

    from taskloom.llm.chat import ProviderModel
    from taskloom.llm.providers import Client

# The provider SDKs and pydantic-ai take seconds to import and ~80 MiB of memory. A process
# imports them when a node first asks for a model, in a thread, so that the import stalls
# no other task on the event loop and a server that runs no LLM node never pays for them.
_HEAVY_MODULES = ("taskloom.llm.chat", "taskloom.llm.providers", "taskloom.llm.loop")


def _import_providers() -> None:
    for name in _HEAVY_MODULES:
        importlib.import_module(name)


class Models(Protocol):
    """What nodes need from the LLM layer: a model for their `settings` block."""

    async def model(self, choice: ModelChoice) -> ChatModel: ...

    async def agent_model(
        self, choice: ModelChoice, *, api_key: str | None = None
    ) -> AgentModel: ...

    @property
    def request_timeout_s(self) -> float: ...


class LLMService:
    """Opens one SDK client per endpoint on first use, and closes them all on exit."""

    def __init__(self, config: LLMConfig, *, sleep: Sleep = asyncio.sleep) -> None:
        self._config = config
        self._sleep = sleep
        self._policy = RetryPolicy(
            max_retries=config.max_retries,
            backoff_s=config.backoff_s,
            max_backoff_s=config.max_backoff_s,
        )
        self._clients: dict[tuple[str, str, str], Client] = {}
        self._closed = False
        self._warming: asyncio.Task[None] | None = None

    @property
    def request_timeout_s(self) -> float:
        return self._config.request_timeout_s

    async def __aenter__(self) -> LLMService:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed = True
        if self._warming is not None:
            await self._warming  # a thread cannot be cancelled; it ends within seconds
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()

    async def model(self, choice: ModelChoice, *, api_key: str | None = None) -> ChatModel:
        """The model `choice` names; raises `ProviderNotConfigured` if this server cannot
        reach it (unknown provider, no key, a base URL it does not allow)."""
        return await self._provider_model(choice, api_key)

    async def agent_model(self, choice: ModelChoice, *, api_key: str | None = None) -> AgentModel:
        """The same model, as a handle the agent loop drives turn by turn. `api_key` (a node's
        named secret) replaces the server's key; `resolve` decides where it may be sent."""
        return await self._provider_model(choice, api_key)

    async def _provider_model(self, choice: ModelChoice, api_key: str | None) -> ProviderModel:
        if self._closed:
            raise RuntimeError("the LLM service is closed")
        if self._warming is None:
            self._warming = asyncio.create_task(
                asyncio.to_thread(_import_providers), name="llm:import-providers"
            )
        await asyncio.shield(self._warming)
        from taskloom.llm.chat import ProviderModel
        from taskloom.llm.providers import model_for

        endpoint = resolve(choice, self._config, api_key=api_key)
        settings: ModelSettings = {"extra_headers": extra_headers(choice)}
        if choice.temperature is not None:
            settings["temperature"] = choice.temperature
        if choice.reasoning_effort is not None:
            settings["thinking"] = choice.reasoning_effort
        if choice.max_tokens is not None:
            settings["max_tokens"] = choice.max_tokens
        return ProviderModel(
            model_for(endpoint, self._client(endpoint)),
            name=f"{endpoint.provider}:{endpoint.model}",
            policy=self._policy,
            settings=settings,
            secrets=[endpoint.api_key] if endpoint.api_key else [],
            sleep=self._sleep,
        )

    def _client(self, endpoint: Endpoint) -> Client:
        from taskloom.llm.providers import open_client

        # A named key gets a client of its own, kept like the others: sent per request as a
        # header instead, it would show in the SDKs' debug logs of request options. Clients
        # are found by a digest of the key, so the dict's keys hold no secret.
        named = endpoint.api_key if endpoint.named_key else None
        digest = hashlib.sha256(named.encode()).hexdigest() if named else ""
        key = (endpoint.api, endpoint.base_url, digest)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = open_client(endpoint)
        return client
