"""`/metrics` after a known workload: names and values, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from taskloom.config import Settings
from tests.conftest import DeployWorkflow
from tests.conftest import test_settings as settings_for
from tests.support.engine import summarizer_workflow
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.workflows import w1

FAILING = {
    "name": "boom",
    "orchestration_nodes": [
        {"id": "boom", "type": "code", "definition": {"code": "def main(input):\n    1 / 0"}}
    ],
}


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture
def embedded_workers() -> bool:
    return True


@pytest.fixture
def settings(database_url: str, fake_llm: FakeLLM, embedded_workers: bool) -> Settings:
    return settings_for(
        database_url,
        llm_openai_base_url=fake_llm.openai_base_url,
        openai_api_key="sk-taskloom-test-metrics",
        embedded_workers=embedded_workers,
        llm_backoff_s=0.01,
        llm_max_backoff_s=0.05,
    )


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def invoke(client: httpx.AsyncClient, headers: dict[str, str], target: str) -> Any:
    reply = await client.post(
        f"/v1/workflows/{target}/invoke", json={"input": {"text": "hi"}}, headers=headers
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_metrics_count_a_known_workload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    fake_llm: FakeLLM,
) -> None:
    three_code_nodes = await deploy_workflow(w1())
    failing = await deploy_workflow(FAILING)
    summarizer = await deploy_workflow(summarizer_workflow(1))
    fake_llm.script(Reply(text="short", input_tokens=11, output_tokens=7))

    assert (await invoke(client, headers, three_code_nodes))["status"] == "completed"
    assert (await invoke(client, headers, three_code_nodes))["status"] == "completed"
    assert (await invoke(client, headers, failing))["status"] == "error"
    assert (await invoke(client, headers, summarizer))["status"] == "completed"

    reply = await client.get("/metrics")  # no key: scrapers do not hold one
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    got = samples(reply.text)

    assert got[("taskloom_tasks", (("status", "completed"),))] == 3
    assert got[("taskloom_tasks", (("status", "error"),))] == 1
    assert got[("taskloom_turns_accepted_total", ())] == 4
    assert got[("taskloom_turns_finished_total", (("status", "completed"),))] == 3
    assert got[("taskloom_turns_finished_total", (("status", "error"),))] == 1
    assert got[("taskloom_queue_depth", ())] == 0
    assert got[("taskloom_queue_oldest_pending_age_seconds", ())] == 0
    assert got[("taskloom_claim_latency_seconds_count", ())] == 4
    assert got[("taskloom_claim_latency_seconds_bucket", (("le", "+Inf"),))] == 4
    code_ok = (("node_type", "code"), ("status", "completed"))
    assert got[("taskloom_node_run_duration_seconds_count", code_ok)] == 6
    code_failed = (("node_type", "code"), ("status", "failed"))
    assert got[("taskloom_node_run_duration_seconds_count", code_failed)] == 1
    summarized = (("node_type", "summarizer"), ("status", "completed"))
    assert got[("taskloom_node_run_duration_seconds_count", summarized)] == 1
    assert (
        got[("taskloom_llm_tokens_total", (("kind", "prompt"), ("node_type", "summarizer")))] == 11
    )
    assert (
        got[("taskloom_llm_tokens_total", (("kind", "completion"), ("node_type", "summarizer")))]
        == 7
    )
    assert got[("taskloom_sandbox_interpreters_in_use", ())] == 0  # nothing runs now
    assert got[("taskloom_sandbox_interpreters", ())] >= 1


async def test_metrics_count_calls_without_usage_apart_from_the_tokens(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    fake_llm: FakeLLM,
) -> None:
    summarizer = await deploy_workflow(summarizer_workflow(1))
    fake_llm.script(Reply(text="counted", input_tokens=11, output_tokens=7))
    fake_llm.script(Reply(text="not counted", usage=False))

    assert (await invoke(client, headers, summarizer))["status"] == "completed"
    assert (await invoke(client, headers, summarizer))["status"] == "completed"

    got = samples((await client.get("/metrics")).text)
    summarizer_only = (("node_type", "summarizer"),)
    assert got[("taskloom_llm_node_calls_without_usage_total", summarizer_only)] == 1
    prompt = (("kind", "prompt"), ("node_type", "summarizer"))
    assert got[("taskloom_llm_tokens_total", prompt)] == 11  # the uncounted call adds nothing


@pytest.mark.parametrize("embedded_workers", [False])
async def test_metrics_show_tasks_waiting_for_a_worker(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow = await deploy_workflow(w1())
    for _ in range(2):
        reply = await client.post(
            f"/v1/workflows/{workflow}/invoke/async",
            json={"input": {"text": "hi"}},
            headers=headers,
        )
        assert reply.status_code == 200, reply.text

    got = samples((await client.get("/metrics")).text)

    assert got[("taskloom_queue_depth", ())] == 2
    assert got[("taskloom_tasks", (("status", "pending"),))] == 2
    assert got[("taskloom_turns_accepted_total", ())] == 2
    assert got[("taskloom_claim_latency_seconds_count", ())] == 0
    assert got[("taskloom_queue_oldest_pending_age_seconds", ())] >= 0
    assert ("taskloom_sandbox_interpreters", ()) not in got  # an API-only process runs no code
    assert not any(name.startswith("taskloom_llm_call") for name, _ in got)  # nor model calls


def summarizer_of(model: str) -> dict[str, Any]:
    return {
        "name": model,
        "orchestration_nodes": [
            {
                "id": "sum",
                "type": "summarizer",
                "name": "sum",
                "definition": {"settings": {"model_name": model}},
            }
        ],
    }


async def test_metrics_count_model_calls_by_provider_model_and_outcome(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    fake_llm: FakeLLM,
) -> None:
    small = await deploy_workflow(summarizer_of("gpt-small"))
    large = await deploy_workflow(summarizer_of("gpt-large"))
    fake_llm.script(
        Reply(text="a", input_tokens=11, output_tokens=7),
        Reply.error(500),  # retried: the call still counts once, and answers
        Reply(text="b", input_tokens=3, output_tokens=2),
        Reply.error(400),  # rejected: not retried
        Reply(text="c", input_tokens=0, output_tokens=0),  # a provider that reports no usage
    )

    assert (await invoke(client, headers, small))["status"] == "completed"
    assert (await invoke(client, headers, large))["status"] == "completed"
    assert (await invoke(client, headers, large))["status"] == "error"
    assert (await invoke(client, headers, small))["status"] == "completed"

    got = samples((await client.get("/metrics")).text)
    small_ok = (("model", "gpt-small"), ("outcome", "ok"), ("provider", "openai"))
    large_ok = (("model", "gpt-large"), ("outcome", "ok"), ("provider", "openai"))
    rejected = (("model", "gpt-large"), ("outcome", "provider_rejected"), ("provider", "openai"))
    calls = {k: v for k, v in got.items() if k[0] == "taskloom_llm_calls_total"}
    assert calls == {
        ("taskloom_llm_calls_total", small_ok): 2,
        ("taskloom_llm_calls_total", large_ok): 1,
        ("taskloom_llm_calls_total", rejected): 1,
    }

    def tokens(model: str, kind: str) -> float:
        labels = (("kind", kind), ("model", model), ("provider", "openai"))
        return got[("taskloom_llm_call_tokens_total", labels)]

    assert (tokens("gpt-small", "input"), tokens("gpt-small", "output")) == (11, 7)  # not 11+0
    assert (tokens("gpt-large", "input"), tokens("gpt-large", "output")) == (3, 2)
    no_usage = (("model", "gpt-small"), ("provider", "openai"))
    assert got[("taskloom_llm_calls_without_usage_total", no_usage)] == 1
    assert (
        "taskloom_llm_calls_without_usage_total",
        (("model", "gpt-large"), ("provider", "openai")),
    ) not in got
    for model, count in (("gpt-small", 2), ("gpt-large", 2)):
        labels = (("model", model), ("provider", "openai"))
        assert got[("taskloom_llm_call_duration_seconds_count", labels)] == count
        inf = (("le", "+Inf"), *labels)
        assert got[("taskloom_llm_call_duration_seconds_bucket", inf)] == count
        assert got[("taskloom_llm_call_duration_seconds_sum", labels)] > 0
