"""Graph semantics through the API: node types, edge conditions, strategies, timeouts, output.

Every test deploys a small workflow, invokes it and reads the task (and its node trace).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from taskloom.config import Settings
from tests.conftest import DeployWorkflow
from tests.conftest import test_settings as make_settings
from tests.support.waiting import eventually
from tests.support.workflows import code_node

MAX_NODE_RUNS = 40
TERMINAL = {"completed", "error", "failed", "stopped"}
TERMINAL_WITHIN_S = 20


@pytest.fixture
def settings(database_url: str) -> Settings:
    # a small bound so that an endless node_pointer loop ends quickly
    # 35 parallel levels (a regression test below) nest the body past the default JSON depth
    return make_settings(database_url, max_node_runs=MAX_NODE_RUNS, max_json_depth=200)


Run = Any  # the Task JSON of a finished run


@pytest.fixture
def run(client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow) -> Any:
    """Deploy `body`, invoke it with `text` and wait for a terminal task (with its trace)."""

    async def run(body: dict[str, Any], text: str = "", **request: Any) -> Run:
        workflow_id = await deploy_workflow({"name": "t", **body})
        started = await client.post(
            f"/v1/workflows/{workflow_id}/invoke/async",
            json={"input": {"text": text}, **request},
            headers=headers,
        )
        assert started.status_code == 200, started.text
        task_id = started.json()["id"]

        async def current() -> dict[str, Any]:
            task: dict[str, Any] = (
                await client.get(f"/v1/tasks/{task_id}", headers=headers)
            ).json()
            return task

        async def terminal() -> dict[str, Any] | None:
            task = await current()
            return task if task["status"] in TERMINAL else None

        try:
            return await eventually(terminal, timeout=TERMINAL_WITHIN_S)
        except AssertionError:
            stuck = await current()
            raise AssertionError(
                f"task still {stuck['status']!r} after {TERMINAL_WITHIN_S} s "
                f"(last node {stuck['last_executed_node_id']!r})"
            ) from None

    return run


def nodes(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"orchestration_nodes": list(items), **fields}


def const(node_id: str, answer: Any, **extra: Any) -> dict[str, Any]:
    return code_node(node_id, f"return {answer!r}", **extra)


def ran(task: Run) -> list[str]:
    """Node ids of the completed runs, in order."""
    return [r["node_id"] for r in task["node_runs"] if r["status"] == "completed"]


def failed_runs(task: Run, node_id: str) -> list[dict[str, Any]]:
    return [r for r in task["node_runs"] if r["node_id"] == node_id and r["status"] == "failed"]


def parallel(node_id: str, *children: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "parallel",
        "name": extra.pop("name", node_id),
        "definition": {"nodes": list(children)},
        "next_node_ids": [],
        **extra,
    }


# -- code node -----------------------------------------------------------------------------


async def test_code_node_raising_ends_the_task_in_error(run: Any) -> None:
    task = await run(nodes(code_node("boom", "raise ValueError('kaput 42')")))
    assert task["status"] == "error"
    assert task["status_reason"] == "node_error"
    assert "kaput 42" in task["status_message"]
    assert task["finished_at"] is not None


async def test_code_node_raising_records_the_failed_run(run: Any) -> None:
    task = await run(nodes(code_node("boom", "raise ValueError('kaput 42')")))
    [failure] = failed_runs(task, "boom")
    assert "kaput 42" in failure["error"]


async def test_code_node_raising_stops_the_walk(run: Any) -> None:
    task = await run(
        nodes(
            code_node("first", "return input", next_ids=["boom"]),
            code_node("boom", "raise RuntimeError('no')", next_ids=["later"]),
            const("later", "never"),
        )
    )
    assert task["status"] == "error"
    assert "later" not in [r["node_id"] for r in task["node_runs"]]
    assert task["result"] is None


async def test_code_node_returning_non_json_is_an_error(run: Any) -> None:
    task = await run(nodes(code_node("bad", "return {1, 2}")))
    assert task["status"] == "error"
    assert task["status_reason"] == "node_error"


async def test_code_node_without_main_is_an_error(run: Any) -> None:
    task = await run(nodes({"id": "x", "type": "code", "definition": {"code": "x = 1"}}))
    assert task["status"] == "error"
    assert "main" in task["status_message"]


async def test_code_node_gets_the_input_text_first(run: Any) -> None:
    task = await run(nodes(code_node("echo", "return input[::-1]")), text="abc")
    assert task["status"] == "completed", task
    assert task["result"] == "cba"


async def test_code_node_gets_the_previous_output_as_input(run: Any) -> None:
    task = await run(
        nodes(
            code_node("make", "return {'n': len(input)}", next_ids=["use"]),
            code_node("use", "return input['n'] * 10"),
        ),
        text="abcd",
    )
    assert task["result"] == "40"


async def test_code_node_result_with_nul_character_completes(run: Any) -> None:
    task = await run(nodes(code_node("nul", "return 'a' + chr(0) + 'b'")))
    assert task["status"] == "completed", task
    assert task["result"] == "a\u0000b"


async def test_code_node_error_with_nul_character_is_reported(run: Any) -> None:
    task = await run(nodes(code_node("nul", "raise ValueError('a' + chr(0) + 'b')")))
    assert task["status"] == "error", task
    assert task["status_reason"] == "node_error"


async def test_code_node_error_with_lone_surrogate_leaves_the_task_readable(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(
        {"name": "t", **nodes(code_node("s", "raise ValueError('a' + chr(0xD800) + 'b')"))}
    )
    started = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async", json={"input": {"text": ""}}, headers=headers
    )
    task_id = started.json()["id"]

    async def settled() -> int | None:
        try:
            reply = await client.get(f"/v1/tasks/{task_id}", headers=headers)
        except UnicodeEncodeError:
            return 500  # what a server answers when the stored task cannot be written out
        return reply.status_code if reply.json()["status"] in TERMINAL else None

    assert await eventually(settled, timeout=TERMINAL_WITHIN_S) == 200


async def test_node_with_a_long_name_runs(run: Any) -> None:
    task = await run(nodes(const("n", "ok", name="N" * 300)))
    assert task["status"] == "completed", task
    assert task["result"] == "ok"


# -- edge conditions -------------------------------------------------------------------------


def router(value_code: str, condition: dict[str, Any]) -> dict[str, Any]:
    """`src` answers `value_code`; edge to `yes` under `condition`, else to `no`."""
    return nodes(
        code_node("src", f"return {value_code}", next_ids=["yes", "no"]),
        const("yes", "yes", condition=condition),
        const("no", "no", condition={"type": "else"}),
    )


CONDITION_CASES = [
    # (id, node output, condition, expected branch)
    ("regex_match", "'order #123'", {"type": "regex", "term": r"#\d+$"}, "yes"),
    ("regex_no_match", "'order #abc'", {"type": "regex", "term": r"#\d+$"}, "no"),
    ("contains_match", "'hello world'", {"type": "contains", "term": "lo wo"}, "yes"),
    ("contains_no_match", "'hello world'", {"type": "contains", "term": "bye"}, "no"),
    ("equal_text", "'ok'", {"type": "equal", "value": "ok"}, "yes"),
    ("equal_text_differs", "'ok'", {"type": "equal", "value": "OK"}, "no"),
    ("equal_number", "7", {"type": "equal", "value": 7}, "yes"),
    ("equal_number_as_text", "'7'", {"type": "equal", "value": 7}, "yes"),
    ("not_equal_match", "'a'", {"type": "not_equal", "value": "b"}, "yes"),
    ("not_equal_no_match", "'a'", {"type": "not_equal", "value": "a"}, "no"),
    ("gt_match", "6", {"type": "gt", "value": 5}, "yes"),
    ("gt_equal_is_no", "5", {"type": "gt", "value": 5}, "no"),
    ("lt_match", "4", {"type": "lt", "value": 5}, "yes"),
    ("lt_equal_is_no", "5", {"type": "lt", "value": 5}, "no"),
    ("gte_equal", "5", {"type": "gte", "value": 5}, "yes"),
    ("gte_below", "4.9", {"type": "gte", "value": 5}, "no"),
    ("lte_equal", "5", {"type": "lte", "value": 5}, "yes"),
    ("lte_above", "5.1", {"type": "lte", "value": 5}, "no"),
    ("gt_not_a_number", "'many'", {"type": "gt", "value": 5}, "no"),
    ("gt_with_term", "10", {"type": "gt", "term": "9"}, "yes"),
    ("not_empty_text", "'x'", {"type": "not_empty"}, "yes"),
    ("not_empty_blank", "''", {"type": "not_empty"}, "no"),
    ("not_empty_empty_list", "[]", {"type": "not_empty"}, "no"),
    ("path_gt", "{'score': 7}", {"type": "gt", "path": "score", "value": 5}, "yes"),
    ("path_gt_below", "{'score': 3}", {"type": "gt", "path": "score", "value": 5}, "no"),
    (
        "path_with_input_prefix",
        "{'score': 7}",
        {"type": "gt", "path": "input.score", "value": 5},
        "yes",
    ),
    (
        "path_nested",
        "{'a': {'b': [1, {'c': 'hit'}]}}",
        {"type": "equal", "path": "a.b.1.c", "value": "hit"},
        "yes",
    ),
    ("path_missing", "{'other': 7}", {"type": "gt", "path": "score", "value": 5}, "no"),
    ("path_not_empty_missing", "{'other': 7}", {"type": "not_empty", "path": "score"}, "no"),
    ("path_into_json_text", "'{\"score\": 9}'", {"type": "gt", "path": "score", "value": 5}, "yes"),
    (
        "path_regex",
        "{'email': 'a@example.com'}",
        {"type": "regex", "path": "email", "term": "@example\\.com$"},
        "yes",
    ),
]


@pytest.mark.parametrize(
    ("value_code", "condition", "branch"),
    [case[1:] for case in CONDITION_CASES],
    ids=[case[0] for case in CONDITION_CASES],
)
async def test_edge_condition_picks_the_branch(
    run: Any, value_code: str, condition: dict[str, Any], branch: str
) -> None:
    task = await run(router(value_code, condition))
    assert task["status"] == "completed", task
    assert task["result"] == branch
    assert ran(task) == ["src", branch]


async def test_edge_condition_path_into_score_json_output(run: Any) -> None:
    body = nodes(
        code_node("score", "return {'score': int(input)}", next_ids=["high", "low"]),
        const("high", "high", condition={"type": "gt", "path": "score", "value": 5}),
        const("low", "low", condition={"type": "else"}),
    )
    assert (await run(body, text="7"))["result"] == "high"


async def test_edge_condition_path_else_branch_for_low_score(run: Any) -> None:
    body = nodes(
        code_node("score", "return {'score': int(input)}", next_ids=["high", "low"]),
        const("high", "high", condition={"type": "gt", "path": "score", "value": 5}),
        const("low", "low", condition={"type": "else"}),
    )
    assert (await run(body, text="2"))["result"] == "low"


async def test_edge_first_matching_edge_wins(run: Any) -> None:
    task = await run(
        nodes(
            const("src", 10, next_ids=["first", "second"]),
            const("first", "first", condition={"type": "gt", "value": 1}),
            const("second", "second", condition={"type": "gt", "value": 2}),
        )
    )
    assert task["result"] == "first"
    assert ran(task) == ["src", "first"]


async def test_edge_else_listed_first_loses_to_a_match(run: Any) -> None:
    task = await run(
        nodes(
            const("src", 10, next_ids=["fallback", "match"]),
            const("fallback", "fallback", condition={"type": "else"}),
            const("match", "match", condition={"type": "gt", "value": 1}),
        )
    )
    assert task["result"] == "match"


async def test_edge_without_condition_is_always_taken(run: Any) -> None:
    task = await run(
        nodes(
            const("src", 1, next_ids=["plain", "never"]),
            const("plain", "plain"),
            const("never", "never", condition={"type": "gt", "value": 0}),
        )
    )
    assert task["result"] == "plain"


async def test_edge_nothing_matches_without_else_ends_at_the_node(run: Any) -> None:
    task = await run(
        nodes(
            const("src", "stay", next_ids=["big"]),
            const("big", "big", condition={"type": "gt", "value": 100}),
        )
    )
    assert task["status"] == "completed"
    assert task["result"] == "stay"
    assert ran(task) == ["src"]


# -- parallel --------------------------------------------------------------------------------


async def test_parallel_merges_json_outputs_by_branch_name(run: Any) -> None:
    task = await run(
        nodes(
            parallel(
                "fan",
                code_node("a", "return {'len': len(input)}", name="alpha"),
                code_node("b", "return [input]", name="beta"),
                const("c", 3),
            ),
            output_format="json",
        ),
        text="hey",
    )
    assert task["status"] == "completed", task
    assert json.loads(task["result"]) == {"alpha": {"len": 3}, "beta": ["hey"], "c": 3}


async def test_parallel_any_text_output_concatenates_with_headers(run: Any) -> None:
    task = await run(
        nodes(
            parallel(
                "fan", const("a", "plain text", name="first"), const("b", {"k": 1}, name="second")
            ),
        )
    )
    assert task["status"] == "completed", task
    assert task["result"] == '## first\nplain text\n\n## second\n{"k": 1}'


async def test_parallel_every_branch_gets_the_same_input(run: Any) -> None:
    task = await run(
        nodes(
            code_node("start", "return input + '!'", next_ids=["fan"]),
            parallel(
                "fan", code_node("a", "return [input]"), code_node("b", "return [input.upper()]")
            ),
            output_format="json",
        ),
        text="go",
    )
    assert json.loads(task["result"]) == {"a": ["go!"], "b": ["GO!"]}


async def test_parallel_merged_output_feeds_the_next_node(run: Any) -> None:
    task = await run(
        nodes(
            {**parallel("fan", const("a", 2), const("b", 3)), "next_node_ids": ["sum"]},
            code_node("sum", "return input['a'] + input['b']"),
        )
    )
    assert task["result"] == "5"


async def test_parallel_branch_raising_ends_the_task_in_error(run: Any) -> None:
    task = await run(
        nodes(
            parallel("fan", const("ok", 1), code_node("bad", "raise ValueError('branch broke')")),
        )
    )
    assert task["status"] == "error", task
    assert task["status_reason"] == "node_error"
    assert "branch broke" in task["status_message"]


async def test_parallel_branch_timing_out_ends_the_task_in_error(run: Any) -> None:
    task = await run(
        nodes(
            parallel(
                "fan",
                const("ok", 1),
                code_node("slow", "import time\ntime.sleep(5)\nreturn 1", timeout_seconds=0.5),
            ),
        )
    )
    assert task["status"] == "error", task
    assert task["status_reason"] == "node_timeout"


async def test_parallel_branch_pointing_back_at_its_parallel_node_is_refused_or_errors(
    client: httpx.AsyncClient, headers: dict[str, str], run: Any
) -> None:
    body = nodes(
        parallel(
            "fan",
            const("ok", 1),
            {"id": "back", "type": "node_pointer", "definition": {"source_node_id": "fan"}},
        ),
    )
    created = await client.post("/v1/workflows", json={"name": "t", **body}, headers=headers)
    if created.status_code == 422:  # refused up front: fine
        return
    task = await run(body)
    assert task["status"] == "error", task


async def test_parallel_nested_deeply_completes(run: Any) -> None:
    inner: dict[str, Any] = const("leaf", "deep")
    for level in range(35):  # steps like "1.0.0...": past 64 characters
        inner = parallel(f"p{level}", inner)
    task = await run(nodes(inner))
    assert task["status"] == "completed", (task["status_reason"], task["status_message"])
    assert "deep" in task["result"]


async def test_parallel_branch_stop_on_failure_ends_the_task_stopped(run: Any) -> None:
    task = await run(
        nodes(
            {
                **parallel(
                    "fan",
                    const("ok", 1),
                    code_node(
                        "bad",
                        "raise ValueError('no')",
                        stop_strategy={"enabled": True, "stop_on_failure": True},
                    ),
                ),
                "next_node_ids": ["after"],
            },
            const("after", "never"),
        )
    )
    assert task["status"] == "stopped", task
    assert task["status_reason"] == "stop_on_failure"
    assert "after" not in ran(task)


async def test_parallel_stop_through_the_api_interrupts_every_branch(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    nap = "import time\ntime.sleep(3)\nreturn 1"
    workflow_id = await deploy_workflow(
        {
            "name": "t",
            **nodes(
                const("first", "x", next_ids=["fan"]),
                {
                    **parallel("fan", code_node("a", nap), code_node("b", nap)),
                    "next_node_ids": ["join"],
                },
                const("join", "joined"),
            ),
        }
    )
    started = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async", json={"input": {"text": ""}}, headers=headers
    )
    task_id = started.json()["id"]

    async def in_branches() -> bool:
        task = (await client.get(f"/v1/tasks/{task_id}", headers=headers)).json()
        return bool(task["last_executed_node_id"] == "first")

    await eventually(in_branches)
    stopped = await client.post(f"/v1/tasks/{task_id}/stop", headers=headers)
    assert stopped.json()["status"] == "stopped"
    # a second run naps as long: once it is done, the stopped run's join would have run by now
    again = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": ""}}, headers=headers
    )
    assert again.json()["status"] == "completed"
    task = (await client.get(f"/v1/tasks/{task_id}", headers=headers)).json()
    assert task["status"] == "stopped"
    assert [r["node_id"] for r in task["node_runs"]] == ["first"]


# -- send_to_end -------------------------------------------------------------------------------


async def test_send_to_end_message_becomes_the_result(run: Any) -> None:
    task = await run(
        nodes(
            const("first", "ignored", next_ids=["end"]),
            {
                "id": "end",
                "type": "send_to_end",
                "definition": {"message": "all done"},
                "next_node_ids": ["after"],
            },
            const("after", "never"),
        )
    )
    assert task["status"] == "completed", task
    assert task["result"] == "all done"


async def test_send_to_end_skips_the_remaining_nodes(run: Any) -> None:
    task = await run(
        nodes(
            const("first", "x", next_ids=["end"]),
            {
                "id": "end",
                "type": "send_to_end",
                "definition": {"message": "done"},
                "next_node_ids": ["after"],
            },
            const("after", "never"),
        )
    )
    assert ran(task) == ["first", "end"]
    assert task["last_executed_node_id"] == "end"


async def test_send_to_end_without_message_passes_its_input(run: Any) -> None:
    task = await run(
        nodes(
            const("first", "carried", next_ids=["end"]),
            {"id": "end", "type": "send_to_end", "definition": {}, "next_node_ids": ["after"]},
            const("after", "never"),
        )
    )
    assert task["result"] == "carried"


async def test_send_to_end_on_a_conditional_branch(run: Any) -> None:
    body = nodes(
        code_node("check", "return input", next_ids=["stop", "go"]),
        {
            "id": "stop",
            "type": "send_to_end",
            "definition": {"message": "rejected"},
            "condition": {"type": "contains", "term": "spam"},
            "next_node_ids": [],
        },
        code_node("go", "return 'accepted: ' + input", condition={"type": "else"}),
    )
    assert (await run(body, text="buy spam now"))["result"] == "rejected"
    assert (await run(body, text="hello"))["result"] == "accepted: hello"


# -- node_pointer ----------------------------------------------------------------------------


async def test_node_pointer_runs_the_source_nodes_behaviour(run: Any) -> None:
    task = await run(
        nodes(
            code_node("double", "return input * 2", next_ids=["again"]),
            {
                "id": "again",
                "type": "node_pointer",
                "definition": {"source_node_id": "double"},
                "condition": {"type": "lt", "value": 0},
            },
            const("unused", "x", next_ids=[]),
        ),
        text="ab",
    )
    # `again` is only reached through double's own edges; here: never (ab*2 is not < 0)
    assert task["result"] == "abab"


async def test_node_pointer_takes_the_source_nodes_next_edges(run: Any) -> None:
    task = await run(
        nodes(
            code_node("start", "return input", next_ids=["jump"]),
            {"id": "jump", "type": "node_pointer", "definition": {"source_node_id": "shout"}},
            code_node("shout", "return input.upper()", next_ids=["tail"]),
            code_node("tail", "return input + '!'"),
        ),
        text="hi",
    )
    # start -> jump (runs shout) -> shout's edge: tail
    assert task["status"] == "completed", task
    assert task["result"] == "HI!"
    assert ran(task) == ["start", "jump", "tail"]


async def test_node_pointer_bounded_loop_with_a_condition(run: Any) -> None:
    task = await run(
        nodes(
            code_node("inc", "return int(input) + 1", next_ids=["loop", "done"]),
            {
                "id": "loop",
                "type": "node_pointer",
                "definition": {"source_node_id": "inc"},
                "condition": {"type": "lt", "value": 5},
            },
            code_node("done", "return 'reached ' + str(input)", condition={"type": "else"}),
        ),
        text="0",
    )
    assert task["status"] == "completed", task
    assert task["result"] == "reached 5"
    assert ran(task) == ["inc", "loop", "loop", "loop", "loop", "done"]


async def test_node_pointer_endless_loop_ends_in_error(run: Any) -> None:
    task = await run(
        nodes(
            code_node("spin", "return input", next_ids=["again"]),
            {"id": "again", "type": "node_pointer", "definition": {"source_node_id": "spin"}},
        ),
        text="x",
    )
    assert task["status"] == "error", task
    assert len(ran(task)) == MAX_NODE_RUNS


# -- retry_strategy --------------------------------------------------------------------------


async def test_retry_strategy_retries_max_retries_times_then_errors(run: Any) -> None:
    task = await run(
        nodes(
            code_node(
                "flaky",
                "raise ConnectionError('down')",
                retry_strategy={"enabled": True, "max_retries": 2},
            ),
        )
    )
    assert task["status"] == "error", task
    assert task["status_reason"] == "node_error"
    failures = failed_runs(task, "flaky")
    assert [f["retry"] for f in failures] == [0, 1, 2]
    assert all("down" in f["error"] for f in failures)


async def test_retry_strategy_disabled_runs_once(run: Any) -> None:
    task = await run(
        nodes(
            code_node(
                "flaky",
                "raise ConnectionError('down')",
                retry_strategy={"enabled": False, "max_retries": 2},
            ),
        )
    )
    assert len(failed_runs(task, "flaky")) == 1


async def test_retry_strategy_success_is_not_retried(run: Any) -> None:
    task = await run(
        nodes(
            const("fine", "ok", retry_strategy={"enabled": True, "max_retries": 3}),
        )
    )
    assert task["status"] == "completed"
    assert [(r["status"], r["retry"]) for r in task["node_runs"]] == [("completed", 0)]


async def test_retry_strategy_applies_to_timeouts(run: Any) -> None:
    task = await run(
        nodes(
            code_node(
                "slow",
                "import time\ntime.sleep(5)\nreturn 1",
                timeout_seconds=0.3,
                retry_strategy={"enabled": True, "max_retries": 1},
            ),
        )
    )
    assert task["status_reason"] == "node_timeout"
    assert len(failed_runs(task, "slow")) == 2


# -- iterative_strategy ----------------------------------------------------------------------


async def test_iterative_strategy_feeds_the_output_back_max_iterations_times(run: Any) -> None:
    task = await run(
        nodes(
            code_node(
                "grow",
                "return input + 'a'",
                iterative_strategy={"enabled": True, "max_iterations": 3},
            ),
        ),
        text="x",
    )
    assert task["status"] == "completed", task
    assert task["result"] == "xaaa"
    assert [r["iteration"] for r in task["node_runs"]] == [0, 1, 2]


async def test_iterative_strategy_end_condition_stops_early(run: Any) -> None:
    task = await run(
        nodes(
            code_node(
                "inc",
                "return int(input) + 1",
                iterative_strategy={
                    "enabled": True,
                    "max_iterations": 10,
                    "end_condition": {"type": "gte", "value": 2},
                },
            ),
        ),
        text="0",
    )
    assert task["result"] == "2"
    assert len(task["node_runs"]) == 2


async def test_iterative_strategy_output_goes_to_the_next_node(run: Any) -> None:
    task = await run(
        nodes(
            code_node(
                "inc",
                "return int(input) + 1",
                next_ids=["show"],
                iterative_strategy={"enabled": True, "max_iterations": 4},
            ),
            code_node("show", "return 'n=' + str(input)"),
        ),
        text="0",
    )
    assert task["result"] == "n=4"


async def test_iterative_strategy_disabled_runs_once(run: Any) -> None:
    task = await run(
        nodes(
            code_node(
                "grow",
                "return input + 'a'",
                iterative_strategy={"enabled": False, "max_iterations": 3},
            ),
        ),
        text="x",
    )
    assert task["result"] == "xa"


# -- stop_strategy ---------------------------------------------------------------------------


def stop_on_failure_body(stop_on_failure: bool) -> dict[str, Any]:
    return nodes(
        code_node("first", "return input + '1'", next_ids=["fragile"]),
        code_node(
            "fragile",
            "raise ValueError('fragile broke')",
            next_ids=["after"],
            stop_strategy={"enabled": True, "stop_on_failure": stop_on_failure},
        ),
        code_node("after", "return 'after got ' + input"),
    )


async def test_stop_on_failure_ends_the_task_stopped(run: Any) -> None:
    task = await run(stop_on_failure_body(True), text="in")
    assert task["status"] == "stopped", task
    assert task["status_reason"] == "stop_on_failure"
    assert task["is_manually_stopped"] is False


async def test_stop_on_failure_never_runs_the_later_nodes(run: Any) -> None:
    task = await run(stop_on_failure_body(True), text="in")
    assert "after" not in [r["node_id"] for r in task["node_runs"]]
    assert len(failed_runs(task, "fragile")) == 1


async def test_stop_on_failure_status_message_names_the_node_error(run: Any) -> None:
    task = await run(stop_on_failure_body(True), text="in")
    assert "fragile broke" in (task["status_message"] or "")


async def test_stop_on_failure_false_carries_on_with_the_input(run: Any) -> None:
    task = await run(stop_on_failure_body(False), text="in")
    assert task["status"] == "completed", task
    assert task["result"] == "after got in1"


async def test_stop_on_failure_comes_after_the_retries(run: Any) -> None:
    task = await run(
        nodes(
            code_node(
                "fragile",
                "raise ValueError('still broken')",
                retry_strategy={"enabled": True, "max_retries": 1},
                stop_strategy={"enabled": True, "stop_on_failure": True},
            ),
        )
    )
    assert task["status"] == "stopped", task
    assert [f["retry"] for f in failed_runs(task, "fragile")] == [0, 1]


async def test_stop_strategy_disabled_failure_is_an_error(run: Any) -> None:
    body = nodes(
        code_node(
            "fragile",
            "raise ValueError('x')",
            stop_strategy={"enabled": False, "stop_on_failure": False},
        )
    )
    task = await run(body)
    assert task["status"] == "error"


async def test_stop_on_condition_ends_the_task_stopped(run: Any) -> None:
    task = await run(
        nodes(
            code_node(
                "check",
                "return {'risk': int(input)}",
                next_ids=["after"],
                stop_strategy={
                    "enabled": True,
                    "stop_on_condition": {"type": "gt", "path": "risk", "value": 5},
                },
            ),
            const("after", "never"),
        ),
        text="9",
    )
    assert task["status"] == "stopped", task
    assert task["status_reason"] is not None
    assert task["is_manually_stopped"] is False
    assert ran(task) == ["check"]


async def test_stop_on_condition_not_matching_carries_on(run: Any) -> None:
    task = await run(
        nodes(
            code_node(
                "check",
                "return {'risk': int(input)}",
                next_ids=["after"],
                stop_strategy={
                    "enabled": True,
                    "stop_on_condition": {"type": "gt", "path": "risk", "value": 5},
                },
            ),
            const("after", "went on"),
        ),
        text="1",
    )
    assert task["status"] == "completed", task
    assert task["result"] == "went on"


# -- timeout_seconds -------------------------------------------------------------------------


async def test_node_timeout_seconds_ends_the_task_in_error(run: Any) -> None:
    task = await run(
        nodes(
            code_node("slow", "import time\ntime.sleep(5)\nreturn 'late'", timeout_seconds=0.5),
        )
    )
    assert task["status"] == "error", task
    assert task["status_reason"] == "node_timeout"


async def test_node_timeout_seconds_interrupts_the_node_promptly(run: Any) -> None:
    task = await run(
        nodes(
            code_node("slow", "import time\ntime.sleep(5)\nreturn 'late'", timeout_seconds=0.5),
        )
    )
    [failure] = failed_runs(task, "slow")
    assert failure["finished_at"] < _plus_seconds(failure["started_at"], 3)


async def test_node_timeout_seconds_not_reached_completes(run: Any) -> None:
    task = await run(
        nodes(
            code_node("quick", "import time\ntime.sleep(0.1)\nreturn 'made it'", timeout_seconds=5),
        )
    )
    assert task["status"] == "completed", task
    assert task["result"] == "made it"


def _plus_seconds(stamp: str, seconds: float) -> str:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- output_format -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output_format", "answer", "result"),
    [
        ("text", "plain", "plain"),
        ("text", {"a": 1}, '{"a": 1}'),
        ("markdown", "# Title", "# Title"),
        ("markdown", [1, 2], "[1, 2]"),
        ("json", {"a": [1, 2]}, '{"a": [1, 2]}'),
        ("json", "plain", '"plain"'),
        ("json", '{"already": "json"}', '{"already": "json"}'),
        ("json", 3, "3"),
    ],
    ids=[
        "text_str",
        "text_dict",
        "markdown_str",
        "markdown_list",
        "json_dict",
        "json_str",
        "json_text_holding_json",
        "json_number",
    ],
)
async def test_output_format_shapes_the_result(
    run: Any, output_format: str, answer: Any, result: str
) -> None:
    task = await run(nodes(const("out", answer), output_format=output_format))
    assert task["status"] == "completed", task
    assert task["result"] == result


async def test_output_format_json_result_parses_back(run: Any) -> None:
    answer = {"name": "Zoë", "n": 1.5, "ok": True, "none": None}
    task = await run(nodes(const("out", answer), output_format="json"))
    assert json.loads(task["result"]) == answer


async def test_output_format_invoke_override_shapes_the_result(run: Any) -> None:
    task = await run(nodes(const("out", "plain"), output_format="text"), output_format="json")
    assert task["output_format"] == "json"
    assert task["result"] == '"plain"'


async def test_empty_workflow_returns_the_input(run: Any) -> None:
    task = await run(nodes(), text="echo me")
    assert task["status"] == "completed", task
    assert task["result"] == "echo me"
