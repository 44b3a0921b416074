"""An OTLP/HTTP trace receiver on loopback: what a collector would get from taskloom's
exporter, decoded from the real protobuf wire format."""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.threaded import ThreadedServer


class OtlpCollector:
    """`with OtlpCollector() as collector:` point OTEL_EXPORTER_OTLP_TRACES_ENDPOINT at
    `collector.traces_url`; `spans` lists (service name, span name, attributes)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, dict[str, Any]]] = []
        self.received = threading.Event()
        self._server = ThreadedServer(
            Starlette(routes=[Route("/v1/traces", self._traces, methods=["POST"])]),
            name="otlp-collector",
        )

    @property
    def traces_url(self) -> str:
        return f"{self._server.url}/v1/traces"

    async def _traces(self, request: Request) -> Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.body())
        for resource_spans in export.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: _value(a.value) for a in span.attributes}
                    self.spans.append((service, span.name, attributes))
        self.received.set()
        return Response(
            ExportTraceServiceResponse().SerializeToString(),
            media_type="application/x-protobuf",
        )

    def __enter__(self) -> OtlpCollector:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop()


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None
