"""`GET /metrics`: Prometheus text format, built afresh for every scrape.

Task, turn, queue, node, token and delivery figures are read from the store
(`store/metrics.py`), so every process reports the whole deployment; the sandbox pool and the
model calls (`llm/call_metrics.py`) are this process's own. Each scrape fills a registry of
its own: no metric lives in a module global.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from taskloom.api.deps import State
from taskloom.llm.call_metrics import CallFigures, CallMetrics, LatencyHistogram
from taskloom.sandbox.pool import SandboxPool
from taskloom.store.metrics import Histogram, StoreMetrics, read_store_metrics

# one label's value, or several in the family's label order
Labels = TypeVar("Labels", bound=str | tuple[str, ...])
Family = TypeVar("Family", CounterMetricFamily, GaugeMetricFamily)


def histogram_samples(h: Histogram | LatencyHistogram) -> list[tuple[str, float]]:
    return [*((str(bound), float(n)) for bound, n in h.buckets), ("+Inf", float(h.count))]


def _labels(key: str | tuple[str, ...]) -> list[str]:
    return [key] if isinstance(key, str) else list(key)


def filled(family: Family, values: Mapping[Labels, int | float]) -> Family:
    """`family` with one sample per labelled value, in a stable order."""
    for key, value in sorted(values.items()):
        family.add_metric(_labels(key), value)
    return family


def filled_histograms(
    family: HistogramMetricFamily, values: Mapping[Labels, Histogram | LatencyHistogram]
) -> HistogramMetricFamily:
    """`family` with one histogram per labelled value, in a stable order."""
    for key, h in sorted(values.items()):
        family.add_metric(_labels(key), histogram_samples(h), h.total)
    return family


class ModelCalls(Collector):
    """This process's model calls, by provider and model."""

    def __init__(self, figures: CallFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        f = self.figures
        yield filled(
            CounterMetricFamily(
                "taskloom_llm_calls",
                "Model calls this process made (retries included in one), by outcome.",
                labels=["provider", "model", "outcome"],
            ),
            f.calls,
        )
        yield filled_histograms(
            HistogramMetricFamily(
                "taskloom_llm_call_duration_seconds",
                "How long this process's model calls took, retries and streaming included.",
                labels=["provider", "model"],
            ),
            f.latency,
        )
        yield filled(
            CounterMetricFamily(
                "taskloom_llm_call_tokens",
                "Tokens this process's model calls used, as the providers reported them.",
                labels=["provider", "model", "kind"],
            ),
            f.tokens,
        )
        yield filled(
            CounterMetricFamily(
                "taskloom_llm_calls_without_usage",
                "Answered model calls whose provider reported no token usage (not in the tokens).",
                labels=["provider", "model"],
            ),
            f.unreported,
        )


class Snapshot(Collector):
    """One scrape's figures, as Prometheus metric families."""

    def __init__(self, store: StoreMetrics) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        s = self.store
        yield filled(
            GaugeMetricFamily(
                "taskloom_tasks", "Tasks by their current status.", labels=["status"]
            ),
            s.tasks_by_status,
        )
        yield CounterMetricFamily(
            "taskloom_turns_accepted", "Turns accepted (each invoke is one).", s.turns_accepted
        )
        yield filled(
            CounterMetricFamily(
                "taskloom_turns_finished", "Turns that ended, by final status.", labels=["status"]
            ),
            s.turns_finished_by_status,
        )
        yield GaugeMetricFamily(
            "taskloom_queue_depth", "Tasks waiting for a worker (pending).", s.queue_depth
        )
        yield GaugeMetricFamily(
            "taskloom_queue_oldest_pending_age_seconds",
            "How long the longest-waiting pending task has waited.",
            s.oldest_pending_s,
        )
        yield filled_histograms(
            HistogramMetricFamily(
                "taskloom_claim_latency_seconds",
                "From a turn's acceptance to a worker starting it.",
                labels=[],
            ),
            {(): s.claim_latency},
        )
        yield filled_histograms(
            HistogramMetricFamily(
                "taskloom_node_run_duration_seconds",
                "Node runs by node type and outcome.",
                labels=["node_type", "status"],
            ),
            s.node_durations,
        )
        yield filled(
            CounterMetricFamily(
                "taskloom_llm_tokens",
                "Model tokens used by node runs, by node type, as the providers reported them.",
                labels=["node_type", "kind"],
            ),
            s.node_tokens,
        )
        yield filled(
            CounterMetricFamily(
                "taskloom_llm_node_calls_without_usage",
                "Model calls of node runs whose provider reported no usage (not in the tokens).",
                labels=["node_type"],
            ),
            s.node_unreported_calls,
        )
        yield filled(
            GaugeMetricFamily(
                "taskloom_webhook_deliveries",
                "Outbound webhook deliveries by state.",
                labels=["status"],
            ),
            s.deliveries_by_status,
        )


class SandboxUsage(Collector):
    """This process's code interpreters."""

    def __init__(self, sandbox: SandboxPool) -> None:
        self.sandbox = sandbox

    def collect(self) -> Iterator[Metric]:
        busy, live = self.sandbox.usage()
        yield GaugeMetricFamily(
            "taskloom_sandbox_interpreters_in_use",
            "This process's code interpreters running user code now.",
            busy,
        )
        yield GaugeMetricFamily(
            "taskloom_sandbox_interpreters",
            "This process's started code interpreters, busy or warm.",
            live,
        )


def process_collectors(
    llm_calls: CallMetrics | None, sandbox: SandboxPool | None
) -> list[Collector]:
    """The figures only this process knows: its sandbox pool and its model calls."""
    collectors: list[Collector] = []
    if sandbox is not None:
        collectors.append(SandboxUsage(sandbox))
    if llm_calls is not None:
        collectors.append(ModelCalls(llm_calls.snapshot()))
    return collectors


def render(collectors: Iterable[Collector]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


def install(app: FastAPI) -> None:
    @app.get("/metrics", include_in_schema=False)
    async def metrics(state: State) -> Response:
        async with state.db.read() as conn:
            store = await read_store_metrics(conn, now=state.clock.now(), sqlite=state.db.is_sqlite)
        collectors = [Snapshot(store), *process_collectors(state.llm_calls, state.sandbox)]
        body = render(collectors)
        return Response(body, media_type=CONTENT_TYPE_LATEST)
