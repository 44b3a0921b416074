"""OpenTelemetry traces: a span per task turn, per node run and per model call.

Only imported when tracing is on, since it needs the `otel` extra. The spans nest as the
work does: a turn's span is current while its attempt walks the graph, a node run's while
the node runs, so a model call's span (through the LLM layer's `CallObserver` hook) lands
under its node, and a parallel node's branches under the parallel node. A sub-task's turn
runs in a task the worker starts, outside its parent's context: it finds the span of the
node run that started it in `_open_nodes` (the same process) and starts under it; run by
another process, it starts a trace of its own.

Model call spans follow the OpenTelemetry GenAI semantic conventions (`gen_ai.*`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider

from taskloom import __version__, errors
from taskloom.engine.subtasks import PARENT_KEY
from taskloom.llm.observe import ModelCall, outcome_of
from taskloom.store.records import TaskRecord, TaskStatus

TracingMode = Literal["off", "otlp", "console"]


def _fail(span: trace.Span, exc: BaseException, error_type: str) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, errors.describe(exc)[:300]))


class Tracing:
    """Opens taskloom's spans on a tracer from `provider` (never the global one)."""

    def __init__(self, provider: TracerProvider) -> None:
        self._tracer = provider.get_tracer("taskloom", __version__)
        # node runs in progress here, by idempotency key: where their sub-tasks' turns go
        self._open_nodes: dict[str, Context] = {}

    @contextlib.contextmanager
    def turn(self, task: TaskRecord) -> Iterator[None]:
        parent: Context | None = None
        started_by = task.request.get(PARENT_KEY)
        if isinstance(started_by, str):
            parent = self._open_nodes.get(started_by)
        attributes: dict[str, Any] = {
            "taskloom.task.id": task.id,
            "taskloom.task.turn": task.turn,
            "taskloom.task.attempt": task.attempt,
            "taskloom.organization.id": task.organization_id,
            "taskloom.workflow.id": task.agent_id,
            "taskloom.workflow.version": task.agent_version,
        }
        if task.parent_id is not None:
            attributes["taskloom.task.parent_id"] = task.parent_id
        # a fresh root unless a parent node run is known: the worker's context has no turn
        with self._tracer.start_as_current_span(
            "taskloom.turn", context=parent or Context(), attributes=attributes
        ):
            yield

    def turn_finished(self, status: TaskStatus, reason: str | None) -> None:
        """Called inside `turn`: how the attempt ended."""
        span = trace.get_current_span()
        span.set_attribute("taskloom.task.status", status.value)
        if reason is not None:
            span.set_attribute("taskloom.task.status_reason", reason)
        if status in (TaskStatus.ERROR, TaskStatus.FAILED):
            span.set_attribute("error.type", reason or status.value)
            span.set_status(Status(StatusCode.ERROR, reason or status.value))

    @contextlib.contextmanager
    def node(
        self, *, node_id: str, name: str, node_type: str, step: str, iteration: int, key: str
    ) -> Iterator[None]:
        attributes: dict[str, str | int] = {
            "taskloom.node.id": node_id,
            "taskloom.node.name": name,
            "taskloom.node.type": node_type,
            "taskloom.node.step": step,
            "taskloom.node.iteration": iteration,
        }
        with self._tracer.start_as_current_span(
            f"taskloom.node {node_type}",
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            self._open_nodes[key] = trace.set_span_in_context(span)
            try:
                yield
            except errors.NodeFailed as exc:
                _fail(span, exc, exc.reason)
                raise
            except errors.PauseRequested:
                span.set_attribute("taskloom.node.paused", True)
                raise
            finally:
                self._open_nodes.pop(key, None)

    @contextlib.contextmanager
    def model_call(self, call: ModelCall) -> Iterator[None]:
        """The LLM layer's `CallObserver` hook: one CLIENT span per call, retries included."""
        with self._tracer.start_as_current_span(
            f"{call.operation} {call.model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": call.operation,
                "gen_ai.provider.name": call.provider,
                "gen_ai.system": call.provider,  # the name before semantic conventions 1.37
                "gen_ai.request.model": call.model,
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except BaseException as exc:
                span.set_attribute("taskloom.llm.attempts", call.attempts)
                if outcome_of(exc) == "cancelled":
                    span.set_attribute("error.type", "cancelled")
                else:
                    _fail(span, exc, type(exc).__name__)
                raise
            span.set_attribute("taskloom.llm.attempts", call.attempts)
            if call.response_model:
                span.set_attribute("gen_ai.response.model", call.response_model)
            if call.input_tokens is not None:
                span.set_attribute("gen_ai.usage.input_tokens", call.input_tokens)
            if call.output_tokens is not None:
                span.set_attribute("gen_ai.usage.output_tokens", call.output_tokens)


def exporting_provider(mode: TracingMode) -> Any:
    """An SDK tracer provider that batches spans to the OTLP exporter (configured, like the
    resource and the sampler, by the standard OTEL_* environment) or to stdout. Raises
    ImportError without the `otel` extra."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "taskloom"}))  # OTEL_SERVICE_NAME unset
    exporter: SpanExporter
    if mode == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = SdkTracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
