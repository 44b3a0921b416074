"""The provider layer: one small interface to OpenAI-compatible endpoints and Anthropic."""

from taskloom.llm.base import ChatModel, Completion, Message, Usage
from taskloom.llm.choice import ModelChoice
from taskloom.llm.errors import (
    InvalidModelOutput,
    ProviderError,
    ProviderNotConfigured,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
)
from taskloom.llm.service import LLMService, Models

__all__ = [
    "ChatModel",
    "Completion",
    "InvalidModelOutput",
    "LLMService",
    "Message",
    "ModelChoice",
    "Models",
    "ProviderError",
    "ProviderNotConfigured",
    "ProviderRejected",
    "ProviderTimeout",
    "ProviderUnavailable",
    "Usage",
]
