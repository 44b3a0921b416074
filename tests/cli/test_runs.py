"""`taskloom invoke` and `taskloom tasks ...` against a real server: results, exit codes by
task status, and the live view as it renders (captured output, not a terminal)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from taskloom.client import Client
from tests.cli.conftest import Run, Server, json_of, ok
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.workflows import code_node


def deploy(server: Server, name: str, *nodes: dict[str, Any]) -> str:
    with Client(server.base, server.key) as client:
        created = client.create_workflow({"name": name, "orchestration_nodes": list(nodes)})
        return client.deploy_workflow(created.id).id


@pytest.fixture(scope="module")
def upper(server: Server) -> str:
    return deploy(
        server,
        "upper",
        # text only, whatever else the invoke carries (a user, files)
        code_node("up", "return input.upper()", next_ids=["tail"], input_type="text"),
        code_node("tail", "return input + '!'"),
    )


def test_invoke_waits_and_prints_the_result(cli: Run, upper: str) -> None:
    result = ok(cli("invoke", "upper", "--text", "hi"))
    assert "completed" in result.stdout
    assert "HI!" in result.stdout
    task = json_of(cli("invoke", upper, "--text", "yo", "--json"))
    assert (task["status"], task["result"]) == ("completed", "YO!")


def test_invoke_takes_a_whole_input_object(cli: Run, upper: str) -> None:
    body = json.dumps({"text": "obj", "user": {"id": "u1", "email": "u@example.com"}})
    task = json_of(cli("invoke", f"workflow:{upper}", "--input", body, "--json"))
    assert task["result"] == "OBJ!"
    assert task["input"]["user"]["id"] == "u1"
    listed = json_of(cli("tasks", "ls", "--user", "u1", "--json"))
    assert [t["id"] for t in listed["items"]] == [task["id"]]


def test_invoke_async_returns_at_once(cli: Run, upper: str) -> None:
    accepted = json_of(cli("invoke", "upper", "-t", "later", "--async", "--json"))
    assert accepted["status"] in ("pending", "executing", "completed")
    done = json_of(cli("tasks", "wait", accepted["id"], "--json"))
    assert done["result"] == "LATER!"


def test_invoke_follow_renders_the_live_view(cli: Run, upper: str) -> None:
    out = ok(cli("invoke", "upper", "-t", "live", "--follow")).stdout
    lines = out.splitlines()
    assert any(line.split()[:4] == ["1", "up", "code", "completed"] for line in lines), out
    assert any(line.split()[:4] == ["2", "tail", "code", "completed"] for line in lines), out
    assert "LIVE!" in out
    assert out.endswith("\n")


def test_invoke_follow_json_prints_one_event_a_line(cli: Run, upper: str) -> None:
    out = ok(cli("invoke", "upper", "-t", "ev", "--follow", "--json")).stdout
    events = [json.loads(line) for line in out.splitlines()]
    assert events[0]["type"] == "task_created"
    assert events[-1]["type"] == "task_finished"
    assert events[-1]["data"]["result"] == "EV!"
    assert [e["id"] for e in events] == list(range(events[0]["id"], events[-1]["id"] + 1))


def test_exit_code_follows_the_task_status(cli: Run, server: Server) -> None:
    deploy(server, "raises", code_node("boom", "raise ValueError('no good')"))
    failed = ok(cli("invoke", "raises", "-t", "x"), 3)
    assert "error" in failed.stdout
    assert json_of_code(cli("invoke", "raises", "-t", "x", "--json"), 3)["status"] == "error"
    ok(cli("invoke", "raises", "-t", "x", "--follow"), 3)


def json_of_code(result: Any, code: int) -> Any:
    return json.loads(ok(result, code).stdout)


def test_invoke_refusals_exit_1_with_the_detail(cli: Run, upper: str) -> None:
    missing = ok(cli("invoke", "no-such-target", "-t", "x"), 1)
    assert "no workflow or agent" in missing.stderr
    pinned = ok(cli("invoke", "upper", "-t", "x", "--version", "9"), 1)
    assert "no version 9" in pinned.stderr
    assert ok(cli("invoke", "upper"), 2).exit_code == 2  # neither --text nor --input
    as_json = json.loads(ok(cli("tasks", "get", "no-such-task", "--json"), 1).stderr)
    assert as_json["error"]["status_code"] == 404
    assert "no-such-task" in as_json["error"]["detail"]


def test_stop_and_watch_a_running_task(cli: Run, server: Server) -> None:
    deploy(server, "slow", code_node("nap", "import time\ntime.sleep(30)\nreturn input"))
    accepted = json_of(cli("invoke", "slow", "-t", "x", "--async", "--json"))
    stopped = json_of(cli("tasks", "stop", accepted["id"], "--json"))
    assert stopped["status"] == "stopped"
    watched = ok(cli("tasks", "watch", accepted["id"]), 5)
    assert "stopped" in watched.stdout
    ok(cli("tasks", "wait", accepted["id"]), 5)


def test_tasks_get_ls_events_thread_rm(cli: Run, upper: str) -> None:
    task = json_of(cli("invoke", "upper", "-t", "first", "--json"))
    second = json_of(cli("invoke", "upper", "-t", "second", "--task", task["id"], "--json"))
    assert (second["id"], second["turn"], second["result"]) == (task["id"], 2, "SECOND!")

    got = ok(cli("tasks", "get", task["id"])).stdout
    assert "turn 2" in got
    assert "SECOND!" in got
    assert json_of(cli("tasks", "get", task["id"], "--json"))["node_runs"][0]["node_id"] == "up"

    listed = json_of(cli("tasks", "ls", "--target", upper, "--status", "completed", "--json"))
    assert task["id"] in [t["id"] for t in listed["items"]]
    assert {t["status"] for t in listed["items"]} == {"completed"}
    by_name = json_of(cli("tasks", "ls", "--target", "upper", "--json"))
    assert {t["agent_id"] for t in by_name["items"]} == {upper}

    events = [
        json.loads(line)
        for line in ok(cli("tasks", "events", task["id"], "--json")).stdout.splitlines()
    ]
    assert [e["type"] for e in events].count("task_finished") == 2
    after = ok(cli("tasks", "events", task["id"], "--after", str(events[-2]["id"]))).stdout
    assert after.split()[0] == str(events[-1]["id"])
    assert "task_finished" in after

    watched = ok(cli("tasks", "watch", task["id"])).stdout  # the latest turn only
    assert "SECOND!" in watched
    resumed = ok(cli("tasks", "watch", task["id"], "--after", str(events[-2]["id"]), "--json"))
    assert [json.loads(line)["type"] for line in resumed.stdout.splitlines()] == ["task_finished"]

    thread = ok(cli("tasks", "thread", task["id"])).stdout
    assert "user: first" in thread
    assert "assistant: SECOND!" in thread
    roles = [m["role"] for m in json_of(cli("tasks", "thread", task["id"], "--json"))]
    assert roles == ["user", "assistant", "user", "assistant"]

    ok(cli("tasks", "rm", task["id"]))
    assert "404" in ok(cli("tasks", "get", task["id"]), 1).stderr


def test_agent_answer_streams_into_the_live_view(
    cli: Run, server: Server, fake_llm: FakeLLM
) -> None:
    with Client(server.base, server.key) as client:
        agent = client.create_agent(
            {
                "name": "talker",
                "model_provider": "local",
                "model_name": "m",
                "llm_api_base": server.model_base,
            }
        )
        client.deploy_agent(agent.id)
    fake_llm.script(Reply.say("the answer, streamed", input_tokens=11, output_tokens=7))
    out = ok(cli("invoke", "agent:talker", "-t", "question?", "--follow")).stdout
    assert "the answer, streamed" in out
    assert "18 tokens" in out  # the task's total in the result's title
    row = next(line for line in out.splitlines() if "completed" in line and "agent" in line)
    assert row.split()[-1] == "18"  # the node's tokens


def test_sub_tasks_nest_under_their_agent_node(cli: Run, server: Server, fake_llm: FakeLLM) -> None:
    with Client(server.base, server.key) as client:
        agent = client.create_agent(
            {
                "name": "inner",
                "model_provider": "local",
                "model_name": "m",
                "llm_api_base": server.model_base,
            }
        )
        client.deploy_agent(agent.id)
    deploy(
        server,
        "delegates",
        {
            "id": "ask",
            "type": "agent",
            "definition": {"asset_id": agent.id},
            "next_node_ids": ["after"],
        },
        code_node("after", "return input + ' (checked)'"),
    )
    fake_llm.script(Reply.say("inner answer"))
    out = ok(cli("invoke", "delegates", "-t", "q", "--follow")).stdout
    lines = out.splitlines()
    ask = next(i for i, line in enumerate(lines) if line.split()[:3] == ["1", "ask", "agent"])
    assert "└ sub-task" in lines[ask + 1], out
    assert lines[ask + 1].split()[-1] == "completed"
    assert "inner answer (checked)" in out
