"""The LLM service nodes get: resolves a node's model choice and owns the provider clients."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
from types import TracebackType
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from taskloom.config import EgressConfig, LLMConfig
from taskloom.llm.base import AgentModel, ChatModel
from taskloom.llm.choice import Endpoint, ModelChoice, extra_headers, resolve
from taskloom.llm.observe import CallObserver
from taskloom.llm.retry import RetryPolicy, Sleep

if TYPE_CHECKING:
    import httpx2
    from pydantic_ai.models import Model
    from pydantic_ai.settings import ModelSettings

    from taskloom.llm.chat import ProviderModel
    from taskloom.llm.openai_chat import OpenAIChat
    from taskloom.llm.outbound import Outbound, Resolve
    from taskloom.llm.providers import Client

# The provider SDKs and pydantic-ai take seconds to import and ~80 MiB of memory. A process
# imports them when a node first asks for a model, in a thread, so that the import stalls
# no other task on the event loop and a server that runs no LLM node never pays for them.
# pydantic-ai's models load genai-prices' price table when built (~35 ms, then ~0.5 s of the
# event loop on a busy server, as py-spy showed): it is imported with them, off the loop.
_HEAVY_MODULES = (
    "taskloom.llm.chat",
    "taskloom.llm.providers",
    "taskloom.llm.loop",
    "genai_prices.data",
)

# SDK clients per endpoint, taken in turn. An HTTP connection pool looks at every connection
# it holds (and probes each idle one's socket) whenever a request starts or ends, so one pool
# serving hundreds of concurrent calls costs O(connections) of CPU per call; a few smaller
# pools divide that.
_CLIENTS_PER_ENDPOINT = 8

ClientKey = tuple[str, str, str]


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

    def __init__(
        self,
        config: LLMConfig,
        *,
        sleep: Sleep = asyncio.sleep,
        resolve: Resolve | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        self._config = config
        self._observer = observer  # told of every model call: metrics, traces
        self._sleep = sleep
        self._resolve = resolve  # tests answer for host names of their own
        self._outbound: Outbound | None = None
        self._policy = RetryPolicy(
            max_retries=config.max_retries,
            backoff_s=config.backoff_s,
            max_backoff_s=config.max_backoff_s,
        )
        self._clients: dict[ClientKey, list[Client]] = {}
        self._https: dict[ClientKey, list[httpx2.AsyncClient]] = {}  # each SDK client's own
        self._turn = 0  # which of an endpoint's clients the next model gets
        # pydantic-ai models hold no per-call state: one per client and model name, with the
        # lean client for plain OpenAI-compatible requests beside it (None for Anthropic)
        self._models: dict[tuple[ClientKey, int, str, str], tuple[Model, OpenAIChat | None]] = {}
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
        self._https = {}
        self._models = {}
        for shard in clients:
            for client in shard:
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

        endpoint = resolve(choice, self._config, api_key=api_key)
        settings: ModelSettings = {"extra_headers": extra_headers(choice)}
        if choice.temperature is not None:
            settings["temperature"] = choice.temperature
        if choice.reasoning_effort is not None:
            settings["thinking"] = choice.reasoning_effort
        if choice.max_tokens is not None:
            settings["max_tokens"] = choice.max_tokens
        model, lean = self._model_for(endpoint)
        return ProviderModel(
            model,
            lean=lean,
            provider=endpoint.provider,
            model_name=endpoint.model,
            observer=self._observer,
            policy=self._policy,
            settings=settings,
            secrets=[endpoint.api_key] if endpoint.api_key else [],
            sleep=self._sleep,
        )

    def _http(self) -> Outbound:
        """Model endpoints go through the checked transport too. Their hosts are the ones the
        operator configured (`resolve` refuses any other base), so those names are let
        through; a redirect elsewhere meets the ordinary rules."""
        if self._outbound is None:
            from taskloom.llm.egress import EgressPolicy
            from taskloom.llm.outbound import Outbound, system_resolve

            config = self._config
            bases = (config.openai_base_url, config.anthropic_base_url, *config.allowed_api_bases)
            hosts = [urlsplit(base.strip()).hostname or "" for base in bases]
            policy = EgressPolicy.from_config(EgressConfig(), hosts=hosts)
            self._outbound = Outbound(policy, resolve=self._resolve or system_resolve)
        return self._outbound

    def _model_for(self, endpoint: Endpoint) -> tuple[Model, OpenAIChat | None]:
        import httpx2

        from taskloom.llm.openai_chat import OpenAIChat
        from taskloom.llm.providers import NO_KEY, model_for, open_client

        # A named key gets clients of its own, kept like the others: sent per request as a
        # header instead, it would show in the SDKs' debug logs of request options. Clients
        # are found by a digest of the key, so the dict's keys hold no secret.
        named = endpoint.api_key if endpoint.named_key else None
        digest = hashlib.sha256(named.encode()).hexdigest() if named else ""
        key = (endpoint.api, endpoint.base_url, digest)
        clients = self._clients.get(key)
        if clients is None:
            clients = self._clients[key] = []
            self._https[key] = []
        self._turn = (self._turn + 1) % _CLIENTS_PER_ENDPOINT
        shard = self._turn
        if shard >= len(clients):  # opened as they are first needed
            shard = len(clients)
            # the SDKs' own defaults: a long read for slow models, many connections
            http = self._http().client(
                timeout=httpx2.Timeout(600.0, connect=5.0),
                limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100),
                follow_redirects=True,
            )
            clients.append(open_client(endpoint, http))
            self._https[key].append(http)
        model_key = (key, shard, endpoint.provider, endpoint.model)
        found = self._models.get(model_key)
        if found is None:
            model = model_for(endpoint, clients[shard])
            lean = None
            if endpoint.api == "openai":
                from pydantic_ai.models.openai import OpenAIChatModel

                assert isinstance(model, OpenAIChatModel)
                lean = OpenAIChat(
                    self._https[key][shard],  # the SDK client's own: one pool, one close
                    base_url=endpoint.base_url,
                    api_key=endpoint.api_key or NO_KEY,
                    sdk_model=model,
                )
            found = self._models[model_key] = (model, lean)
        return found
