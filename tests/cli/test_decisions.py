"""`taskloom tasks approve | reject | resume`: deciding a paused task from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.cli.conftest import Run, Server, json_of

APPROVAL = {
    "name": "needs-approval",
    "output_format": "json",
    "orchestration_nodes": [
        {
            "id": "ask",
            "type": "wait",
            "next_node_ids": ["done"],
            "definition": {"type": "hitl", "definition": {"subject": "Ship it?"}},
        },
        {
            "id": "done",
            "type": "code",
            "condition": {"type": "equal", "path": "approved", "value": True},
            "definition": {
                "code": "def main(input):\n    return [input['decided_by'], input['comment']]"
            },
        },
    ],
}

CALLBACK = {
    "name": "needs-callback",
    "output_format": "json",
    "orchestration_nodes": [
        {
            "id": "hook",
            "type": "wait",
            "next_node_ids": ["echo"],
            "definition": {"type": "webhook"},
        },
        {
            "id": "echo",
            "type": "code",
            "definition": {"code": "def main(input):\n    return input"},
        },
    ],
}


def paused_task(cli: Run, server: Server, tmp_path: Path, workflow: dict[str, Any]) -> str:
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(workflow))
    json_of(cli("workflows", "apply", str(path), "--deploy", "--json"))
    task = json_of(cli("invoke", workflow["name"], "--text", "v2", "--async", "--json"))
    # the long poll answers once the task is paused (or terminal)
    polled = httpx.get(
        f"{server.base}/v1/tasks/{task['id']}",
        params={"wait": 30},
        headers={"x-api-key": server.key},
        timeout=40,
    ).json()
    assert polled["status"] == "paused", polled
    return str(task["id"])


def test_approve_runs_the_task_on_with_the_decision(
    cli: Run, server: Server, tmp_path: Path
) -> None:
    task_id = paused_task(cli, server, tmp_path, APPROVAL)

    decided = json_of(
        cli("tasks", "approve", task_id, "--comment", "looks good", "--by", "ann", "--json")
    )
    assert decided["status"] in ("pending", "executing", "completed")

    finished = json_of(cli("tasks", "wait", task_id, "--json"))
    assert finished["status"] == "completed"
    assert json.loads(finished["result"]) == ["ann", "looks good"]


def test_reject_without_a_route_for_it_ends_the_task_error(
    cli: Run, server: Server, tmp_path: Path
) -> None:
    task_id = paused_task(cli, server, tmp_path, APPROVAL)

    shown = cli("tasks", "reject", task_id, "--comment", "not yet")
    assert shown.exit_code == 0, shown.output
    assert f"task {task_id} rejected" in shown.stdout

    waited = cli("tasks", "wait", task_id, "--json")
    assert waited.exit_code == 3  # the task's status is `error`
    assert json.loads(waited.stdout)["status_reason"] == "rejected"


def test_a_second_contrary_decision_is_refused(cli: Run, server: Server, tmp_path: Path) -> None:
    task_id = paused_task(cli, server, tmp_path, APPROVAL)
    json_of(cli("tasks", "approve", task_id, "--json"))

    refused = cli("tasks", "reject", task_id)

    assert refused.exit_code == 1
    assert "409" in refused.output


def test_resume_hands_the_webhook_wait_its_body(cli: Run, server: Server, tmp_path: Path) -> None:
    task_id = paused_task(cli, server, tmp_path, CALLBACK)

    json_of(cli("tasks", "resume", task_id, "--body", '{"paid": true}', "--json"))

    finished = json_of(cli("tasks", "wait", task_id, "--json"))
    assert finished["status"] == "completed"
    assert json.loads(finished["result"]) == {"paid": True}


def test_resume_refuses_a_body_that_is_not_json(cli: Run) -> None:
    result = cli("tasks", "resume", "some-task", "--body", "{nope")
    assert result.exit_code == 2
    assert "not JSON" in result.output
