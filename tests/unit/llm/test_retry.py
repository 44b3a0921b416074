"""Retry decisions without I/O: which failures are retried, and how long to wait."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelHTTPError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelRequestRejectedError,
    ModelRequestTimeout,
    ModelServerError,
    ModelTimeoutError,
    ModelUnavailableError,
)

from taskloom.llm.chat import classify
from taskloom.llm.retry import RetryPolicy


def test_delay_grows_exponentially_to_the_cap() -> None:
    policy = RetryPolicy(max_retries=10, backoff_s=1.0, max_backoff_s=5.0)
    top = [policy.delay_s(n, retry_after_s=None, jitter=0.999999) for n in range(5)]
    assert top == pytest.approx([1.0, 2.0, 4.0, 5.0, 5.0], rel=1e-3)


def test_delay_jitter_keeps_at_least_half() -> None:
    policy = RetryPolicy(backoff_s=1.0, max_backoff_s=8.0)
    assert policy.delay_s(1, retry_after_s=None, jitter=0.0) == 1.0


def test_delay_honours_retry_after_within_the_cap() -> None:
    policy = RetryPolicy(backoff_s=0.1, max_backoff_s=8.0)
    assert policy.delay_s(0, retry_after_s=3.0, jitter=0.5) == 3.0
    assert policy.delay_s(0, retry_after_s=60.0, jitter=0.5) == 8.0


def test_attempts_is_one_more_than_retries() -> None:
    assert RetryPolicy(max_retries=0).attempts == 1
    assert RetryPolicy(max_retries=2).attempts == 3


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 529])
def test_classify_uncategorized_http_status_is_retried(status: int) -> None:
    assert classify(ModelHTTPError(status, "m")) == "retry"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_classify_uncategorized_client_error_is_rejected(status: int) -> None:
    assert classify(ModelHTTPError(status, "m")) == "reject"


@pytest.mark.parametrize(
    ("category", "status", "verdict"),
    [
        (ModelRateLimitError, 429, "retry"),
        (ModelServerError, 500, "retry"),
        (ModelUnavailableError, 503, "retry"),
        (ModelQuotaExceededError, 429, "reject"),
        (ModelRequestRejectedError, 400, "reject"),
    ],
)
def test_classify_categorized_http_error(category: Any, status: int, verdict: str) -> None:
    error = ModelHTTPError.for_category(category, status_code=status, model_name="m")
    assert classify(error) == verdict


def test_classify_timeouts() -> None:
    assert classify(ModelRequestTimeout("m", 1.0)) == "timeout"
    assert classify(ModelTimeoutError("m", "read timed out")) == "timeout"


def test_classify_connection_error_is_retried() -> None:
    assert classify(ModelConnectionError("m", "reset")) == "retry"


def test_classify_authentication_error_is_rejected() -> None:
    assert classify(ModelAuthenticationError("m", "bad key")) == "reject"


def test_classify_uncategorized_api_error_is_retried() -> None:
    assert classify(ModelAPIError("m", "odd")) == "retry"
