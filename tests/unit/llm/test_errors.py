"""Credential scrubbing in error messages."""

from __future__ import annotations

from taskloom.errors import NodeFailed
from taskloom.llm.errors import (
    InvalidModelOutput,
    ProviderNotConfigured,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    redact,
)


def test_redact_removes_the_given_secret() -> None:
    assert redact("bad key: s3cret-value here", ["s3cret-value"]) == "bad key: [redacted] here"


def test_redact_removes_key_shaped_text() -> None:
    text = "Incorrect API key provided: sk-proj-abc123****wxyz. Find yours at ..."
    assert "sk-proj" not in redact(text)


def test_redact_cuts_long_text() -> None:
    assert len(redact("x" * 1000)) == 300


def test_redact_keeps_plain_text() -> None:
    assert redact("HTTP 500: upstream exploded") == "HTTP 500: upstream exploded"
    assert (
        redact("code token_limit_exceeded, api-version 2")
        == "code token_limit_exceeded, api-version 2"
    )


def test_redact_removes_anthropic_keys() -> None:
    assert redact("key sk-ant-api03-AbCdEf123456 bad") == "key [redacted] bad"


def test_errors_are_node_failures_with_reason_codes() -> None:
    reasons = {
        ProviderUnavailable: "provider_unavailable",
        ProviderTimeout: "provider_timeout",
        ProviderRejected: "provider_rejected",
        ProviderNotConfigured: "provider_not_configured",
        InvalidModelOutput: "invalid_llm_output",
    }
    for cls, reason in reasons.items():
        assert issubclass(cls, NodeFailed)
        assert cls("x").reason == reason


def test_timeout_is_a_kind_of_unavailable() -> None:
    assert issubclass(ProviderTimeout, ProviderUnavailable)
