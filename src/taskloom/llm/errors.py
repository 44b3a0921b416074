"""What a model call can end in, as node failures the runner knows how to report.

    NodeFailed (taskloom.errors)
    ├── ProviderError               the provider refused or could not serve a request
    │   ├── ProviderUnavailable     429 / 5xx / connection lost, still so after the retries
    │   │   └── ProviderTimeout     every attempt ran past its timeout
    │   ├── ProviderRejected        4xx the request itself caused (auth, quota, bad request)
    │   └── ProviderNotConfigured   unknown provider, no key, or a base URL not allowed
    ├── InvalidModelOutput          the answer could not be read as what the node asked for
    ├── ToolCallLimitExceeded       an agent asked for more tool calls than its limit
    └── ToolError                   an agent's tools could not be set up (MCP server, names)
        └── EgressRefused           a tool URL is not http(s) or points at a refused address

Messages never carry credentials: `redact` scrubs them from anything a provider says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from taskloom.errors import NodeFailed

# provider key formats (OpenAI `sk-…`, `sk-proj-…`, Anthropic `sk-ant-…`), even partly masked
_KEYISH = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-*.]{8,}")
_MAX_MESSAGE = 300


class ProviderError(NodeFailed):
    """The model provider refused or could not serve a request."""

    reason = "provider_error"


class ProviderUnavailable(ProviderError):
    """The provider stayed rate-limited, failing or unreachable through every retry."""

    reason = "provider_unavailable"
    platform = True


class ProviderTimeout(ProviderUnavailable):
    """The provider did not answer within the timeout, on every attempt."""

    reason = "provider_timeout"


class ProviderRejected(ProviderError):
    """The provider rejected the request itself; sending it again would not help."""

    reason = "provider_rejected"


class ProviderNotConfigured(ProviderError):
    """The node names a provider, model endpoint or credential this server does not have."""

    reason = "provider_not_configured"


class InvalidModelOutput(NodeFailed):
    """The model answered, but not with something the node can use."""

    reason = "invalid_llm_output"


class ToolCallLimitExceeded(NodeFailed):
    """The agent kept asking for tools past `tool_call_limit`; it would likely loop again."""

    reason = "tool_call_limit"


class ToolError(NodeFailed):
    """An agent's tools could not be made available: an MCP server refused, could not be
    reached or is local (stdio), or two tools share a name."""

    reason = "tool_error"


class EgressRefused(ToolError):
    """A tool's URL is not http(s), or its host resolves to a private, loopback, link-local
    or otherwise non-public address that the egress allow-list does not name."""

    reason = "egress_refused"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without the given secrets or anything shaped like an API key, cut short."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _KEYISH.sub("[redacted]", text)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"
