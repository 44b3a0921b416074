"""OpenTelemetry spans of a real run against the fake model server: turn > node run > model
call, a sub-task's turn under the node that started it, GenAI attributes on model calls."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from taskloom.api.app import create_app
from taskloom.config import Settings
from tests.conftest import DeployWorkflow, new_key
from tests.llm.test_agents_api import deployed_agent
from tests.support.engine import approval_workflow
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.otlp_collector import OtlpCollector
from tests.support.waiting import eventually
from tests.support.workflows import code_node


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.clear()


@pytest.fixture
async def client(
    settings: Settings, exporter: InMemorySpanExporter
) -> AsyncIterator[httpx.AsyncClient]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(settings, tracer_provider=provider)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://taskloom") as client:
            yield client
    provider.shutdown()


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    [parent] = [s for s in spans if s.context.span_id == span.parent.span_id]
    return parent


async def finished_turns(exporter: InMemorySpanExporter, count: int) -> list[ReadableSpan]:
    """Every span, once `count` turn spans have ended: a task is terminal in the store a
    moment before its attempt's span ends."""

    async def ended() -> list[ReadableSpan] | None:
        spans = list(exporter.get_finished_spans())
        return spans if sum(s.name == "taskloom.turn" for s in spans) >= count else None

    return await eventually(ended, timeout=10)


def only(spans: list[ReadableSpan], name: str, **attributes: object) -> ReadableSpan:
    [span] = [
        s
        for s in spans
        if s.name == name and all((s.attributes or {}).get(k) == v for k, v in attributes.items())
    ]
    return span


async def test_agent_workflow_spans_nest_turn_node_sub_task_and_model_call(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,
    deploy_workflow: DeployWorkflow,
    exporter: InMemorySpanExporter,
) -> None:
    agent_id = await deployed_agent(client, headers)
    workflow_id = await deploy_workflow(
        {
            "name": "delegates",
            "orchestration_nodes": [
                code_node("prep", "return input + '?'", next_ids=["ask"]),
                {"id": "ask", "type": "agent", "definition": {"asset_id": agent_id}},
            ],
        }
    )
    fake_llm.script(Reply.say("An answer.", input_tokens=13, output_tokens=5))
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "why"}}, headers=headers
    )
    parent_task = reply.json()
    assert parent_task["status"] == "completed", parent_task
    [child_id] = (await client.get(f"/v1/tasks/{parent_task['id']}", headers=headers)).json()[
        "sub_executions"
    ]

    spans = await finished_turns(exporter, 2)
    turn = only(spans, "taskloom.turn", **{"taskloom.task.id": parent_task["id"]})
    assert turn.parent is None
    assert turn.attributes is not None
    assert turn.attributes["taskloom.task.status"] == "completed"
    assert turn.attributes["taskloom.workflow.id"] == workflow_id
    assert isinstance(turn.attributes["taskloom.organization.id"], str)
    prep = only(spans, "taskloom.node code", **{"taskloom.node.id": "prep"})
    ask = only(spans, "taskloom.node agent", **{"taskloom.node.id": "ask"})
    assert parent_of(prep, spans) is turn
    assert parent_of(ask, spans) is turn

    # the agent ran as a sub-task: its turn hangs under the node that started it
    child_turn = only(spans, "taskloom.turn", **{"taskloom.task.id": child_id})
    assert parent_of(child_turn, spans) is ask
    assert child_turn.attributes is not None
    assert child_turn.attributes["taskloom.task.parent_id"] == parent_task["id"]
    [chat] = [s for s in spans if s.name.startswith("chat ")]
    model_node = parent_of(chat, spans)
    assert model_node is not None
    assert model_node.name == "taskloom.node agent"
    assert parent_of(model_node, spans) is child_turn
    assert {s.context.trace_id for s in spans} == {turn.context.trace_id}

    assert chat.name == "chat gpt-test"
    assert chat.kind == SpanKind.CLIENT
    assert chat.status.status_code == StatusCode.UNSET
    assert dict(chat.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-test",
        "gen_ai.response.model": "gpt-test",
        "gen_ai.usage.input_tokens": 13,
        "gen_ai.usage.output_tokens": 5,
        "taskloom.llm.attempts": 1,
    }


async def test_failed_model_call_marks_its_span_node_and_turn(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,
    deploy_workflow: DeployWorkflow,
    exporter: InMemorySpanExporter,
) -> None:
    workflow_id = await deploy_workflow(
        {
            "name": "sums",
            "orchestration_nodes": [
                {"id": "sum", "type": "summarizer", "name": "sum", "definition": {}}
            ],
        }
    )
    fake_llm.script(Reply.error(400, "bad request"))
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "x"}}, headers=headers
    )
    assert reply.json()["status"] == "error", reply.json()

    spans = await finished_turns(exporter, 1)
    [chat] = [s for s in spans if s.name.startswith("chat ")]
    assert chat.status.status_code == StatusCode.ERROR
    assert chat.attributes is not None
    assert chat.attributes["error.type"] == "ProviderRejected"
    assert "gen_ai.usage.input_tokens" not in chat.attributes
    node = parent_of(chat, spans)
    assert node is not None
    assert node.attributes is not None
    assert node.attributes["error.type"] == "provider_rejected"
    turn = parent_of(node, spans)
    assert turn is not None
    assert turn.name == "taskloom.turn"
    assert turn.status.status_code == StatusCode.ERROR
    assert turn.attributes is not None
    assert turn.attributes["taskloom.task.status"] == "error"


SUMMARIZER = {
    "name": "sums",
    "orchestration_nodes": [{"id": "sum", "type": "summarizer", "name": "sum", "definition": {}}],
}


async def run_summarizer(settings: Settings, database_url: str) -> dict[str, Any]:
    """An app of these settings (no test provider), a summarizer workflow run to its end."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://taskloom") as client:
            headers = {"x-api-key": await new_key(database_url, "acme")}
            created = await client.post("/v1/workflows", json=SUMMARIZER, headers=headers)
            workflow_id = created.json()["id"]
            await client.put(f"/v1/workflows/{workflow_id}", headers=headers)
            reply = await client.post(
                f"/v1/workflows/{workflow_id}/invoke",
                json={"input": {"text": "x"}},
                headers=headers,
            )
            task: dict[str, Any] = reply.json()
    return task


async def test_otlp_tracing_sends_spans_where_the_otel_environment_says(
    settings: Settings, database_url: str, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_llm.script(Reply.say("short"))
    with OtlpCollector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.traces_url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "loom-test")
        # the app's exit flushes the batched spans: by then the collector has them
        task = await run_summarizer(settings.model_copy(update={"tracing": "otlp"}), database_url)

    assert task["status"] == "completed", task
    assert collector.received.is_set()
    by_name = {name: attributes for _, name, attributes in collector.spans}
    assert {"taskloom.turn", "taskloom.node summarizer", "chat gpt-4o-mini"} <= set(by_name)
    assert by_name["taskloom.turn"]["taskloom.task.id"] == task["id"]
    assert by_name["chat gpt-4o-mini"]["gen_ai.usage.input_tokens"] == 11
    assert {service for service, _, _ in collector.spans} == {"loom-test"}


async def test_tracing_without_the_extra_says_so_at_start_and_runs_on(
    settings: Settings,
    database_url: str,
    fake_llm: FakeLLM,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.resources", None)  # not installed
    caplog.set_level(logging.ERROR, logger="taskloom.engine.host")
    fake_llm.script(Reply.say("short"))

    task = await run_summarizer(settings.model_copy(update={"tracing": "otlp"}), database_url)

    assert task["status"] == "completed", task
    [said] = [r for r in caplog.records if getattr(r, "event", None) == "tracing_unavailable"]
    assert "pip install 'taskloom[otel]'" in said.getMessage()
    assert said.levelno == logging.ERROR


async def test_a_turn_that_pauses_at_a_wait_ends_its_span_paused(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    exporter: InMemorySpanExporter,
) -> None:
    workflow_id = await deploy_workflow(approval_workflow())
    started = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async", json={"input": {"text": "x"}}, headers=headers
    )
    task_id = started.json()["id"]

    async def paused() -> bool:
        task = (await client.get(f"/v1/tasks/{task_id}", headers=headers)).json()
        return bool(task["status"] == "paused")

    await eventually(paused, timeout=30)

    async def turn_span() -> ReadableSpan | None:
        turns = [s for s in exporter.get_finished_spans() if s.name == "taskloom.turn"]
        return turns[0] if turns else None

    turn = await eventually(turn_span, timeout=10)
    assert turn.attributes is not None
    assert turn.attributes["taskloom.task.status"] == "paused"
    assert turn.status.status_code == StatusCode.UNSET
    wait = only(list(exporter.get_finished_spans()), "taskloom.node wait")
    assert parent_of(wait, list(exporter.get_finished_spans())) == turn
    assert wait.attributes is not None
    assert wait.attributes["taskloom.node.paused"] is True
