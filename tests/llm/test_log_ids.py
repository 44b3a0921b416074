"""Lines logged while a task's attempt runs carry its task and organization ids, whichever
layer logs them (here the LLM layer, which knows nothing of tasks)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from taskloom import logs
from tests.conftest import DeployWorkflow
from tests.support.fake_llm import FakeLLM, Reply


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the `taskloom` loggers write, as `TASKLOOM_LOG_FORMAT=json` would have it."""
    out = io.StringIO()
    handler = logs.handler("json", out)
    logger = logging.getLogger("taskloom")
    logger.addHandler(handler)
    try:
        yield out
    finally:
        logger.removeHandler(handler)


async def test_a_line_logged_inside_a_node_run_carries_the_task_and_organization_ids(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,
    deploy_workflow: DeployWorkflow,
    log_lines: io.StringIO,
) -> None:
    workflow_id = await deploy_workflow(
        {
            "name": "sums",
            "orchestration_nodes": [
                {"id": "sum", "type": "summarizer", "name": "sum", "definition": {}}
            ],
        }
    )
    fake_llm.script(Reply.error(500), Reply.say("short"))  # the first attempt fails: a warning
    task = (
        await client.post(
            f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "x"}}, headers=headers
        )
    ).json()
    assert task["status"] == "completed", task

    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    [failed] = [line for line in lines if line.get("event") == "llm_attempt_failed"]
    assert failed["logger"] == "taskloom.llm.chat"
    assert failed["task_id"] == task["id"]
    assert failed["organization_id"] == task["organization_id"]
