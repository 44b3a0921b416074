"""LLM-backed nodes in deployed workflows, through the API, on SQLite and PostgreSQL.

The model is the fake server on loopback; the real `openai` and `anthropic` clients talk to it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from tests.conftest import DeployWorkflow
from tests.llm.conftest import SECRETS
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.waiting import eventually
from tests.support.workflows import code_node

TERMINAL = {"completed", "error", "failed", "stopped"}


@pytest.fixture
def run(client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow) -> Any:
    """Deploy `nodes`, invoke with `text`, wait for a terminal task; return its JSON."""

    async def run(*nodes: dict[str, Any], text: str = "", **spec: Any) -> dict[str, Any]:
        workflow_id = await deploy_workflow(
            {"name": "llm", "orchestration_nodes": list(nodes), **spec}
        )
        started = await client.post(
            f"/v1/workflows/{workflow_id}/invoke/async",
            json={"input": {"text": text}},
            headers=headers,
        )
        assert started.status_code == 200, started.text
        task_id = started.json()["id"]

        async def terminal() -> dict[str, Any] | None:
            task: dict[str, Any] = (
                await client.get(f"/v1/tasks/{task_id}", headers=headers)
            ).json()
            return task if task["status"] in TERMINAL else None

        return await eventually(terminal, timeout=30)

    return run


def llm_node(
    node_id: str,
    kind: str,
    definition: dict[str, Any],
    next_ids: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": kind,
        "name": node_id,
        "definition": definition,
        "next_node_ids": next_ids or [],
        **extra,
    }


def routed(node_id: str, group_id: str, answer: str) -> dict[str, Any]:
    return code_node(node_id, f"return {answer!r}", condition={"group_id": group_id})


def ran(task: dict[str, Any]) -> list[str]:
    return [r["node_id"] for r in task["node_runs"] if r["status"] == "completed"]


TRIAGE: dict[str, Any] = {
    "groups": [
        {"id": "billing", "name": "Billing", "evaluation_criteria": "payments and refunds"},
        {"id": "tech", "name": "Technical", "evaluation_criteria": "bugs and outages"},
    ],
    "instructions": "Route customer mail.",
}


def triage(provider: str = "openai", **settings: Any) -> dict[str, Any]:
    definition = {**TRIAGE, "settings": {"model_provider": provider, **settings}}
    return llm_node("triage", "classifier", definition, ["to-billing", "to-tech"])


BRANCHES = (routed("to-billing", "billing", "billing team"), routed("to-tech", "tech", "tech team"))


# -- classifier ----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_classifier_routes_down_the_edge_of_the_picked_group(
    run: Any, fake_llm: FakeLLM, provider: str
) -> None:
    fake_llm.script(Reply.tool("answer", {"group_id": "tech", "reason": "an outage"}))
    task = await run(triage(provider), *BRANCHES, text="the site is down")
    assert task["status"] == "completed", task
    assert task["result"] == "tech team"
    assert ran(task) == ["triage", "to-tech"]
    [request] = fake_llm.requests
    assert request.api == provider
    assert "the site is down" in json.dumps(request.body)
    assert request.headers["idempotency-key"].startswith(f"{task['id']}/")


async def test_classifier_reading_a_text_answer_routes_too(run: Any, fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply.say("billing"))
    task = await run(triage(), *BRANCHES, text="refund please")
    assert task["result"] == "billing team"


async def test_classifier_with_extraction_passes_extracted_data_on(
    run: Any, fake_llm: FakeLLM
) -> None:
    definition = {
        "groups": [
            {
                "id": "order",
                "evaluation_criteria": "about an order",
                "auto_extract_relevant_data": True,
                "data_extraction_keys": ["order_id"],
            },
            {"id": "other"},
        ]
    }
    fake_llm.script(
        Reply.tool("answer", {"group_id": "order", "extracted_data": {"order_id": "A7"}})
    )
    task = await run(
        llm_node("c", "classifier", definition, ["use"]),
        code_node("use", "return input['extracted_data']['order_id']"),
        text="where is order A7?",
    )
    assert task["status"] == "completed", task
    assert task["result"] == "A7"


async def test_classifier_answer_naming_no_group_is_a_node_error(
    run: Any, fake_llm: FakeLLM
) -> None:
    fake_llm.script(Reply.say("I cannot tell"))
    task = await run(triage(), *BRANCHES)
    assert task["status"] == "error"
    assert task["status_reason"] == "invalid_llm_output"


async def test_invalid_classifier_definition_is_refused_at_deploy(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = {"name": "bad", "orchestration_nodes": [llm_node("c", "classifier", {"groups": []})]}
    created = await client.post("/v1/workflows", json=body, headers=headers)
    assert created.status_code in (400, 422), created.text


# -- guardrail -----------------------------------------------------------------------------


GUARD: dict[str, Any] = {
    "groups": [
        {"id": "pass", "evaluation_criteria": "polite"},
        {"id": "fail", "evaluation_criteria": "rude"},
    ]
}


@pytest.mark.parametrize("verdict", ["pass", "fail"])
async def test_guardrail_routes_on_its_verdict(run: Any, fake_llm: FakeLLM, verdict: str) -> None:
    fake_llm.script(Reply.tool("answer", {"verdict": verdict, "reason": "because"}))
    task = await run(
        llm_node("guard", "guardrail", GUARD, ["ok", "blocked"]),
        routed("ok", "pass", "sent"),
        routed("blocked", "fail", "blocked"),
        text="hello",
    )
    assert task["status"] == "completed", task
    assert task["result"] == ("sent" if verdict == "pass" else "blocked")


async def test_guardrail_fail_without_a_fail_route_ends_in_error(
    run: Any, fake_llm: FakeLLM
) -> None:
    fake_llm.script(Reply.tool("answer", {"verdict": "fail", "reason": "rude"}))
    task = await run(
        llm_node("guard", "guardrail", GUARD, ["next"]),
        code_node("next", "return 'went on'"),  # unconditioned: not a fail route
        text="hello",
    )
    assert task["status"] == "error", task
    assert task["status_reason"] == "guardrail_failed"
    assert [r["node_id"] for r in task["node_runs"]] == ["guard"]


async def test_guardrail_pass_follows_an_unconditioned_edge(run: Any, fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply.tool("answer", {"verdict": "pass", "reason": "fine"}))
    task = await run(
        llm_node("guard", "guardrail", GUARD, ["next"]),
        code_node("next", "return 'went on'"),
        text="hello",
    )
    assert task["status"] == "completed", task
    assert task["result"] == "went on"


async def test_guardrail_passes_its_input_on(run: Any, fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply.tool("answer", {"verdict": "pass", "reason": "fine"}))
    task = await run(
        llm_node("guard", "guardrail", GUARD, ["echo"]),
        code_node("echo", "return input.upper()", condition={"group_id": "pass"}),
        text="hello",
    )
    assert task["result"] == "HELLO"


# -- summarizer ----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_summarizer_output_is_the_result(run: Any, fake_llm: FakeLLM, provider: str) -> None:
    fake_llm.script(Reply.say("  Two meetings moved to Friday.  "))
    definition = {"instructions": "List what changed.", "settings": {"model_provider": provider}}
    task = await run(
        code_node("load", "return {'events': ['a', 'b']}", next_ids=["sum"]),
        llm_node("sum", "summarizer", definition),
    )
    assert task["status"] == "completed", task
    assert task["result"] == "Two meetings moved to Friday."
    [request] = fake_llm.requests
    assert "List what changed." in json.dumps(request.body)
    assert '\\"events\\"' in json.dumps(request.body)


# -- provider failures ---------------------------------------------------------------------


async def test_rate_limit_then_success_completes_with_one_node_run(
    run: Any, fake_llm: FakeLLM
) -> None:
    fake_llm.script(Reply.error(429, "slow down"), Reply.say("summary"))
    task = await run(llm_node("sum", "summarizer", {}))
    assert task["status"] == "completed", task
    assert task["result"] == "summary"
    assert ran(task) == ["sum"]
    keys = {request.headers["idempotency-key"] for request in fake_llm.requests}
    assert len(fake_llm.requests) == 2
    assert len(keys) == 1


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_server_errors_past_the_retries_fail_the_task_with_a_reason(
    run: Any, fake_llm: FakeLLM, provider: str
) -> None:
    fake_llm.script(*[Reply.error(500, "upstream exploded")] * 3)
    task = await run(llm_node("sum", "summarizer", {"settings": {"model_provider": provider}}))
    assert task["status"] == "failed"  # the platform could not finish it, not the workflow
    assert task["status_reason"] == "provider_unavailable"
    assert "3 attempts" in task["status_message"]
    [failed] = [r for r in task["node_runs"] if r["status"] == "failed"]
    assert "HTTP 500" in failed["error"]


@pytest.mark.parametrize("llm_overrides", [{"llm_request_timeout_s": 1.0, "llm_max_retries": 1}])
async def test_slow_provider_ends_the_task_with_provider_timeout(
    run: Any, fake_llm: FakeLLM
) -> None:
    fake_llm.script(Reply.hang(10.0), Reply.hang(10.0))
    task = await run(llm_node("sum", "summarizer", {}))
    assert task["status"] == "failed"
    assert task["status_reason"] == "provider_timeout"
    assert len(fake_llm.requests) == 2


async def test_endpoint_not_allowed_never_gets_a_request(run: Any, fake_llm: FakeLLM) -> None:
    settings = {"llm_api_base": "http://127.0.0.2:9/v1", "model_provider": "openai"}
    task = await run(llm_node("sum", "summarizer", {"settings": settings}))
    assert task["status"] == "error"
    assert task["status_reason"] == "provider_not_configured"
    assert fake_llm.requests == []


async def test_unsupported_provider_is_a_clear_error(run: Any, fake_llm: FakeLLM) -> None:
    task = await run(
        llm_node("sum", "summarizer", {"settings": {"model_provider": "amazon_bedrock"}})
    )
    assert task["status_reason"] == "provider_not_configured"
    assert "amazon_bedrock" in task["status_message"]


# -- credentials ---------------------------------------------------------------------------


async def test_credentials_never_appear_in_replies_or_logs(
    run: Any,
    fake_llm: FakeLLM,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    replies: list[str] = []
    for provider, key in zip(["openai", "anthropic"], SECRETS, strict=True):
        definition = {"settings": {"model_provider": provider}}
        fake_llm.script(Reply.error(503, "busy"), Reply.say("fine"))
        ok = await run(llm_node("sum", "summarizer", definition))
        assert ok["status"] == "completed", ok
        # a provider that echoes the key back in its error
        fake_llm.script(Reply.error(401, f"Incorrect API key provided: {key}."))
        rejected = await run(llm_node("sum", "summarizer", definition))
        assert rejected["status_reason"] == "provider_rejected"
        replies += [json.dumps(ok), json.dumps(rejected)]
        listed = await client.get("/v1/tasks", headers=headers)
        replies.append(listed.text)
    logged = caplog.text + " ".join(str(record.__dict__) for record in caplog.records)
    for secret in SECRETS:
        assert all(secret not in reply for reply in replies)
        assert secret not in logged
    # the keys did reach the model server: the test would prove nothing otherwise
    sent = " ".join(str(request.headers) for request in fake_llm.requests)
    assert all(secret in sent for secret in SECRETS)
