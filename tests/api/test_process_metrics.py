"""A worker-only process's own `/metrics` port: its model calls, nothing from the store."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from taskloom.api.metrics import process_collectors
from taskloom.api.process_metrics import serve_process_metrics
from taskloom.clock import ManualClock
from taskloom.llm.call_metrics import CallMetrics
from taskloom.llm.observe import ModelCall


async def test_process_metrics_port_serves_the_model_calls_and_nothing_else() -> None:
    calls = CallMetrics(ManualClock())
    call = ModelCall(operation="chat", provider="anthropic", model="claude-test")
    with calls.model_call(call):
        call.input_tokens, call.output_tokens = 5, 3

    async with (
        serve_process_metrics(
            lambda: process_collectors(calls, None), host="127.0.0.1", port=0
        ) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        reply = await client.get("/metrics")
        missing = await client.get("/health")

    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }
    ok = (("model", "claude-test"), ("outcome", "ok"), ("provider", "anthropic"))
    assert got[("taskloom_llm_calls_total", ok)] == 1
    input_tokens = (("kind", "input"), ("model", "claude-test"), ("provider", "anthropic"))
    assert got[("taskloom_llm_call_tokens_total", input_tokens)] == 5
    assert not any(name.startswith("taskloom_tasks") for name, _ in got)  # the API's to report
    assert missing.status_code == 404
