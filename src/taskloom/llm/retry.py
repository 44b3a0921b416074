"""How long to wait before trying a model call again, and how often. A pure decision."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Sleep = Callable[[float], Awaitable[None]]


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
        ceiling = min(self.max_backoff_s, self.backoff_s * 2.0**retry)
        wait = ceiling / 2 + jitter * ceiling / 2
        if retry_after_s is not None:
            wait = max(wait, retry_after_s)
        return min(wait, self.max_backoff_s)
