"""Model calls counted in this process: calls by outcome, latency, tokens, per provider and
model. `/metrics` renders a `snapshot()`.

These figures are the process's own, unlike the store-derived ones: a model call leaves no
row behind (a node run may make many calls, and a failed or stopped one records none), and
writing one per call would put a store write on every model call. Each process that runs
workers reports the calls it made; Prometheus adds the processes up with `sum by (provider,
model)`, and `rate()` takes a restart's reset to zero in its stride.
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from taskloom.clock import Clock
from taskloom.llm.observe import ModelCall, outcome_of

# seconds: a small model answers in tens of milliseconds, a reasoning model in minutes
CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

ModelKey = tuple[str, str]  # (provider, model)


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """Cumulative bucket counts (one per bound; +Inf is `count`), the count and the sum."""

    buckets: tuple[tuple[float, int], ...]
    count: int
    total: float


@dataclass(frozen=True, slots=True)
class CallFigures:
    calls: dict[tuple[str, str, str], int]  # (provider, model, outcome) -> calls
    latency: dict[ModelKey, LatencyHistogram]
    tokens: dict[tuple[str, str, str], int]  # (provider, model, input | output) -> tokens
    # answered calls whose provider reported no usage: their tokens are missing from `tokens`
    unreported: dict[ModelKey, int]


class _Latency:
    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(CALL_BUCKETS) + 1)  # the last one is past every bound
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(CALL_BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> LatencyHistogram:
        running, buckets = 0, []
        for bound, n in zip(CALL_BUCKETS, self.counts, strict=False):
            running += n
            buckets.append((bound, running))
        return LatencyHistogram(tuple(buckets), sum(self.counts), self.total)


class CallMetrics:
    """A `CallObserver` that counts. Everything runs on the event loop: plain dicts do."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._calls: dict[tuple[str, str, str], int] = {}
        self._latency: dict[ModelKey, _Latency] = {}
        self._tokens: dict[tuple[str, str, str], int] = {}
        self._unreported: dict[ModelKey, int] = {}

    @contextlib.contextmanager
    def model_call(self, call: ModelCall) -> Iterator[None]:
        started = self._clock.monotonic()
        failure: BaseException | None = None
        try:
            yield
        except BaseException as exc:  # counted, then re-raised untouched
            failure = exc
            raise
        finally:
            self._record(call, outcome_of(failure), self._clock.monotonic() - started)

    def _record(self, call: ModelCall, outcome: str, seconds: float) -> None:
        key = (call.provider, call.model)
        counted = (*key, outcome)
        self._calls[counted] = self._calls.get(counted, 0) + 1
        latency = self._latency.get(key)
        if latency is None:
            latency = self._latency[key] = _Latency()
        latency.observe(seconds)
        if outcome == "ok" and call.input_tokens is None and call.output_tokens is None:
            self._unreported[key] = self._unreported.get(key, 0) + 1
        for kind, used in (("input", call.input_tokens), ("output", call.output_tokens)):
            if used:
                token_key = (*key, kind)
                self._tokens[token_key] = self._tokens.get(token_key, 0) + used

    def snapshot(self) -> CallFigures:
        return CallFigures(
            calls=dict(self._calls),
            latency={key: h.cumulative() for key, h in self._latency.items()},
            tokens=dict(self._tokens),
            unreported=dict(self._unreported),
        )
