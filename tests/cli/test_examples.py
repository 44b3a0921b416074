"""The workflows in examples/: each deployed with the one command its file shows, then run by
`taskloom invoke` against a real server whose model is a fake OpenAI-compatible server on
loopback (and, for the triage, whose invoice API is a fake HTTP server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Run, Server, json_of
from tests.support.fake_actions import FakeActions
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.server import Process, create_key, start_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def actions() -> Iterator[FakeActions]:
    with FakeActions() as fake:
        yield fake


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, fake_llm: FakeLLM, actions: FakeActions
) -> Iterator[Server]:
    """A server whose default provider is the fake model, and whose tools may reach loopback."""
    root = tmp_path_factory.mktemp("examples-server")
    database_url = f"sqlite:///{root / 'taskloom.db'}"
    key = create_key(database_url, "examples")
    process: Process
    process, base = start_server(
        database_url,
        root / "serve.log",
        llm_openai_base_url=fake_llm.openai_base_url,
        openai_api_key="sk-taskloom-examples-test",
        egress_allowed_hosts=json.dumps(["127.0.0.1"]),
        poll_s="0.2",
    )
    try:
        yield Server(base, key, database_url, fake_llm.openai_base_url)
    finally:
        process.terminate()


@pytest.fixture(autouse=True)
def fresh_fakes(fake_llm: FakeLLM, actions: FakeActions) -> None:
    fake_llm.reset()
    actions.reset()


def deploy(cli: Run, path: Path) -> str:
    applied = json_of(cli("workflows", "apply", str(path), "--deploy", "--json"))
    assert applied["workflow"]["version"] >= 1  # deployed now, or unchanged since an earlier test
    return str(applied["workflow"]["id"])


def invoke(cli: Run, name: str, text: str) -> dict[str, object]:
    task = json_of(cli("invoke", name, "--text", text, "--json"))
    assert isinstance(task, dict)
    return task


def test_data_cleanup_reports_rejected_records(cli: Run) -> None:
    deploy(cli, EXAMPLES / "data-cleanup" / "workflow.yaml")
    records = [{"email": " Ann@Example.com ", "age": "41"}, {"email": "bad", "age": "x"}]

    task = invoke(cli, "data-cleanup", json.dumps(records))

    assert task["status"] == "completed"
    result = json.loads(str(task["result"]))
    assert result["accepted"] == [{"email": "ann@example.com", "age": 41, "problems": []}]
    assert result["rejected"] == [{"email": "bad", "age": None, "problems": ["email", "age"]}]
    assert result["summary"] == "1 accepted, 1 rejected"


def test_data_cleanup_routes_clean_and_empty_input(cli: Run) -> None:
    deploy(cli, EXAMPLES / "data-cleanup" / "workflow.yaml")

    clean = invoke(cli, "data-cleanup", json.dumps([{"email": "a@b.io", "age": "7"}]))
    empty = invoke(cli, "data-cleanup", "[]")

    assert json.loads(str(clean["result"]))["summary"] == "all 1 records accepted"
    assert json.loads(str(empty["result"]))["summary"] == "no records"
    assert [run["node_id"] for run in empty["node_runs"]] == ["parse", "nothing_to_do"]  # type: ignore[attr-defined]


def test_support_triage_looks_the_invoice_up_and_checks_the_reply(
    cli: Run, fake_llm: FakeLLM, actions: FakeActions, tmp_path: Path
) -> None:
    # the example's invoice API, pointed at the fake one
    source = (EXAMPLES / "support-triage" / "workflow.yaml").read_text()
    workflow = tmp_path / "workflow.yaml"
    workflow.write_text(source.replace("https://billing.example.com", actions.url))
    deploy(cli, workflow)
    answer = "You were charged once; the second line is a pending authorisation."
    fake_llm.script(
        Reply.tool("answer", {"group_id": "billing", "reason": "a charge"}),
        Reply.tool("lookup_invoice", {"invoice_id": "INV-1042"}),
        Reply.say(answer),
        Reply.tool("answer", {"verdict": "pass", "reason": "polite and answers"}),
    )

    task = invoke(cli, "support-triage", "Why was I charged twice on invoice INV-1042?")

    assert task["status"] == "completed", task
    assert task["result"] == answer
    assert [(r.method, r.path, r.query) for r in actions.received] == [
        ("GET", "/v1/invoices", {"invoice_id": ["INV-1042"]})
    ]
    assert [run["node_id"] for run in task["node_runs"]] == [  # type: ignore[attr-defined]
        "triage",
        "billing_agent",
        "check_reply",
        "approved",
    ]


def test_support_triage_escalates_a_reply_the_guardrail_fails(
    cli: Run, fake_llm: FakeLLM, tmp_path: Path, actions: FakeActions
) -> None:
    source = (EXAMPLES / "support-triage" / "workflow.yaml").read_text()
    workflow = tmp_path / "workflow.yaml"
    workflow.write_text(source.replace("https://billing.example.com", actions.url))
    deploy(cli, workflow)
    fake_llm.script(
        Reply.tool("answer", {"group_id": "billing", "reason": "a refund"}),
        Reply.say("Sure, we refund you twice the amount."),
        Reply.tool("answer", {"verdict": "fail", "reason": "promises a refund"}),
    )

    task = invoke(cli, "support-triage", "I want a refund")

    assert task["status"] == "completed", task
    assert "billing team will answer you" in str(task["result"])


def test_research_digest_joins_three_perspectives(cli: Run, fake_llm: FakeLLM) -> None:
    deploy(cli, EXAMPLES / "research-digest" / "workflow.yaml")
    fake_llm.script(
        Reply.say("- notes one"),
        Reply.say("- notes two"),
        Reply.say("- notes three"),
        Reply.say("Recommendation: yes."),
    )

    task = invoke(cli, "research-digest", "Should we move our queue to PostgreSQL?")

    assert task["status"] == "completed", task
    assert task["result"] == "Recommendation: yes."
    summarizer_prompt = json.dumps(fake_llm.requests[-1].body)
    for part in ("## Benefits", "## Risks", "## Alternatives", "notes one", "notes two"):
        assert part in summarizer_prompt  # every branch's notes reached the summarizer
    assert "notes three" in summarizer_prompt


def test_every_example_says_how_to_deploy_it() -> None:
    for workflow in EXAMPLES.glob("*/workflow.yaml"):
        assert (
            f"taskloom workflows apply examples/{workflow.parent.name}/workflow.yaml --deploy"
            in (workflow.read_text())
        )
