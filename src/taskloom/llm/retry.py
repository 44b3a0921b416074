"""When to try a model call again, and how long to wait first. Pure decisions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic_ai.exceptions import (
    ModelAPIError,
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

Verdict = Literal["retry", "timeout", "reject"]

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


def classify(exc: ModelAPIError) -> Verdict:
    """`retry` for a failure that may pass (rate limit, 5xx, lost connection), `timeout` for
    one that ran out of time (also retried), `reject` for one a retry would repeat."""
    if isinstance(exc, ModelRequestTimeout | ModelTimeoutError):
        return "timeout"
    if isinstance(exc, ModelQuotaExceededError | ModelRequestRejectedError):
        return "reject"
    if isinstance(
        exc, ModelRateLimitError | ModelUnavailableError | ModelServerError | ModelConnectionError
    ):
        return "retry"
    if isinstance(exc, ModelHTTPError):
        status = exc.status_code
        return "retry" if status in _RETRYABLE_STATUS or status >= 500 else "reject"
    return "retry"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 2
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0

    @property
    def attempts(self) -> int:
        return self.max_retries + 1

    def delay_s(self, retry: int, *, retry_after_s: float | None, jitter: float) -> float:
        """The wait before retry number `retry` (0 first): exponential with "equal jitter"
        (`jitter` in [0, 1)), at least what the provider asked for, never past the cap."""
        ceiling = min(self.max_backoff_s, self.backoff_s * 2**retry)
        wait = ceiling / 2 + jitter * ceiling / 2
        if retry_after_s is not None:
            wait = max(wait, retry_after_s)
        return min(wait, self.max_backoff_s)
