"""Counting model calls: outcome labels, latency buckets and tokens, with no model at all."""

from __future__ import annotations

import asyncio

import pytest

from taskloom.clock import ManualClock
from taskloom.llm.call_metrics import CALL_BUCKETS, CallMetrics
from taskloom.llm.errors import ProviderTimeout
from taskloom.llm.observe import ModelCall, combine


def chat(model: str = "m") -> ModelCall:
    return ModelCall(operation="chat", provider="openai", model=model)


async def test_call_metrics_put_a_call_in_the_bucket_of_its_duration() -> None:
    clock = ManualClock()
    metrics = CallMetrics(clock)
    with metrics.model_call(chat()):
        await clock.advance(0.3)

    [(key, latency)] = metrics.snapshot().latency.items()
    assert key == ("openai", "m")
    assert (latency.count, latency.total) == (1, pytest.approx(0.3))
    below = [n for bound, n in latency.buckets if bound < 0.3]
    above = [n for bound, n in latency.buckets if bound >= 0.3]
    assert set(below) == {0}
    assert set(above) == {1}
    assert len(latency.buckets) == len(CALL_BUCKETS)


def test_call_metrics_label_failures_by_reason_and_let_them_through() -> None:
    metrics = CallMetrics(ManualClock())
    with pytest.raises(ProviderTimeout), metrics.model_call(chat()):
        raise ProviderTimeout("too slow")
    with pytest.raises(asyncio.CancelledError), metrics.model_call(chat()):
        raise asyncio.CancelledError
    with pytest.raises(KeyError), metrics.model_call(chat()):
        raise KeyError("a bug")

    figures = metrics.snapshot()
    assert figures.calls == {
        ("openai", "m", "provider_timeout"): 1,
        ("openai", "m", "cancelled"): 1,
        ("openai", "m", "error"): 1,
    }
    assert figures.tokens == {}  # failed calls report no usage


def test_combine_tells_every_observer_and_skips_the_absent() -> None:
    first, second = CallMetrics(ManualClock()), CallMetrics(ManualClock())
    assert combine(None, None) is None
    assert combine(first, None) is first
    both = combine(first, second)
    assert both is not None
    call = chat()
    with both.model_call(call):
        call.input_tokens, call.output_tokens = 4, 2
    for metrics in (first, second):
        assert metrics.snapshot().tokens == {
            ("openai", "m", "input"): 4,
            ("openai", "m", "output"): 2,
        }


def test_call_metrics_count_answers_without_usage_apart() -> None:
    metrics = CallMetrics(ManualClock())
    with metrics.model_call(chat()):
        pass  # answered, and the provider said nothing of tokens
    with pytest.raises(ProviderTimeout), metrics.model_call(chat()):
        raise ProviderTimeout("too slow")  # no answer: no usage to miss

    figures = metrics.snapshot()
    assert figures.unreported == {("openai", "m"): 1}
    assert figures.tokens == {}
