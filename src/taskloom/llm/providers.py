"""Provider clients: the real `openai` and `anthropic` SDKs, wrapped as pydantic-ai models.

Each SDK client sends through an `httpx2` client the caller gives it (`outbound.py`): model
calls are outbound HTTP like any other, behind the same checked transport.
"""

from __future__ import annotations

from typing import Protocol

import httpx2
from anthropic import AsyncAnthropic
from openai import AsyncOpenAI
from pydantic_ai.models import Model
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.providers.openai_compatible import OpenAICompatibleProvider

from taskloom.llm.choice import Endpoint

# a placeholder for endpoints that need no key: the SDKs would otherwise read their own
# environment variables, and only taskloom's config may read the environment
NO_KEY = "no-key"


class Client(Protocol):
    async def close(self) -> None: ...


def open_client(endpoint: Endpoint, http: httpx2.AsyncClient) -> Client:
    """An SDK client for the endpoint over `http` (which it then owns and closes), with the
    SDK's own retries off (ours are bounded)."""
    key = endpoint.api_key or NO_KEY
    if endpoint.api == "anthropic":
        return AsyncAnthropic(
            api_key=key, base_url=endpoint.base_url, max_retries=0, http_client=http
        )
    return AsyncOpenAI(api_key=key, base_url=endpoint.base_url, max_retries=0, http_client=http)


def model_for(endpoint: Endpoint, client: Client) -> Model:
    if isinstance(client, AsyncAnthropic):
        return AnthropicModel(endpoint.model, provider=AnthropicProvider(anthropic_client=client))
    if not isinstance(client, AsyncOpenAI):
        raise TypeError(f"no model for a {type(client).__name__}")
    if endpoint.provider == "openai":
        return OpenAIChatModel(endpoint.model, provider=OpenAIProvider(openai_client=client))
    compatible = OpenAICompatibleProvider(endpoint.provider, openai_client=client)
    return OpenAIChatModel(endpoint.model, provider=compatible)
