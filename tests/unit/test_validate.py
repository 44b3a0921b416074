"""validate_spec without I/O: every graph that cannot run is refused with InvalidRequest."""

from __future__ import annotations

from typing import Any

import pytest

from taskloom.errors import InvalidRequest
from taskloom.nodes.registry import NODE_CONFIGS
from taskloom.workflows.definition import WorkflowSpec
from taskloom.workflows.validate import validate_spec
from tests.support.workflows import code_node

MAX_NODES = 200


def spec(*nodes: dict[str, Any]) -> WorkflowSpec:
    return WorkflowSpec.model_validate({"name": "w", "orchestration_nodes": list(nodes)})


def check(*nodes: dict[str, Any], max_nodes: int = MAX_NODES) -> None:
    validate_spec(spec(*nodes), max_nodes=max_nodes, node_configs=NODE_CONFIGS)


def refused(*nodes: dict[str, Any], max_nodes: int = MAX_NODES) -> str:
    with pytest.raises(InvalidRequest) as caught:
        check(*nodes, max_nodes=max_nodes)
    return str(caught.value)


def node(node_id: str, *, next_ids: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return code_node(node_id, "return input", next_ids=next_ids, **extra)


def pointer(node_id: str, source: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "node_pointer",
        "definition": {"source_node_id": source},
        **extra,
    }


def parallel(node_id: str, *children: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "parallel", "definition": {"nodes": list(children)}, **extra}


# -- accepted ----------------------------------------------------------------------------------


def test_validate_spec_accepts_a_chain() -> None:
    check(node("a", next_ids=["b"]), node("b", next_ids=["c"]), node("c"))


def test_validate_spec_accepts_a_diamond() -> None:
    check(
        node("a", next_ids=["b", "c"]),
        node("b", next_ids=["d"]),
        node("c", next_ids=["d"]),
        node("d"),
    )


def test_validate_spec_accepts_an_empty_workflow() -> None:
    check()


def test_validate_spec_accepts_a_pointer_loop() -> None:
    check(
        node("inc", next_ids=["loop", "done"]),
        pointer("loop", "inc", condition={"type": "lt", "value": 3}),
        node("done", condition={"type": "else"}),
    )


def test_validate_spec_accepts_a_parallel_node() -> None:
    check(parallel("fan", node("x"), node("y"), next_node_ids=["join"]), node("join"))


def test_validate_spec_accepts_exactly_max_nodes() -> None:
    check(*(node(f"n{i}") for i in range(5)), max_nodes=5)


def test_validate_spec_accepts_a_good_regex() -> None:
    check(node("a", next_ids=["b"]), node("b", condition={"type": "regex", "term": r"^\d+$"}))


# -- refused -----------------------------------------------------------------------------------


def test_validate_spec_refuses_more_than_max_nodes() -> None:
    message = refused(*(node(f"n{i}") for i in range(6)), max_nodes=5)
    assert "5" in message
    assert "6" in message


def test_validate_spec_counts_parallel_branches_towards_max_nodes() -> None:
    refused(parallel("fan", *(node(f"b{i}") for i in range(5))), max_nodes=5)


def test_validate_spec_refuses_duplicate_ids() -> None:
    assert "'a'" in refused(node("a"), node("a"))


def test_validate_spec_refuses_a_branch_reusing_a_top_level_id() -> None:
    refused(node("a", next_ids=["fan"]), parallel("fan", node("a")))


def test_validate_spec_refuses_an_unknown_type() -> None:
    message = refused({"id": "x", "type": "teleport", "definition": {}})
    assert "teleport" in message
    assert "code" in message  # lists what is known


def test_validate_spec_refuses_a_code_node_without_code() -> None:
    assert "code" in refused({"id": "x", "type": "code", "definition": {}})


def test_validate_spec_refuses_a_dangling_edge() -> None:
    assert "ghost" in refused(node("a", next_ids=["ghost"]))


def test_validate_spec_refuses_a_cycle() -> None:
    message = refused(
        node("a", next_ids=["b"]), node("b", next_ids=["c"]), node("c", next_ids=["a"])
    )
    assert "cycle" in message
    assert "a -> b -> c -> a" in message


def test_validate_spec_refuses_a_self_loop() -> None:
    assert "cycle" in refused(node("a", next_ids=["a"]))


def test_validate_spec_refuses_a_cycle_off_the_entry_path() -> None:
    refused(
        node("a", next_ids=["b"]), node("b"), node("c", next_ids=["d"]), node("d", next_ids=["c"])
    )


def test_validate_spec_refuses_a_bad_regex_on_an_edge() -> None:
    assert "regex" in refused(
        node("a", next_ids=["b"]), node("b", condition={"type": "regex", "term": "(open"})
    )


def test_validate_spec_refuses_a_bad_regex_in_an_end_condition() -> None:
    refused(
        node(
            "a",
            iterative_strategy={"enabled": True, "end_condition": {"type": "regex", "term": "*"}},
        )
    )


def test_validate_spec_refuses_a_bad_regex_in_a_stop_condition() -> None:
    refused(
        node(
            "a",
            stop_strategy={
                "enabled": True,
                "stop_on_condition": {"type": "regex", "term": "a{2,1}"},
            },
        )
    )


def test_validate_spec_refuses_a_bad_regex_in_a_parallel_branch() -> None:
    refused(parallel("fan", node("x", condition={"type": "regex", "term": "["})))


def test_validate_spec_refuses_a_pointer_to_an_unknown_node() -> None:
    assert "ghost" in refused(pointer("p", "ghost"))


def test_validate_spec_refuses_a_pointer_without_a_source() -> None:
    refused({"id": "p", "type": "node_pointer", "definition": {}})


def test_validate_spec_refuses_a_pointer_cycle() -> None:
    refused(pointer("p", "q"), pointer("q", "p"))


def test_validate_spec_refuses_a_pointer_to_itself() -> None:
    refused(pointer("p", "p"))


def test_validate_spec_refuses_a_parallel_node_without_branches() -> None:
    refused(parallel("fan"))


def test_validate_spec_refuses_branches_with_edges() -> None:
    refused(parallel("fan", node("x", next_ids=["y"]), node("y")))


def test_validate_spec_refuses_branches_with_one_label() -> None:
    refused(parallel("fan", node("x", name="same"), node("y", name="same")))


def test_validate_spec_refuses_a_branch_named_like_another_branchs_id() -> None:
    refused(parallel("fan", node("x"), node("y", name="x")))


def test_validate_spec_refuses_a_branch_without_an_id() -> None:
    refused(parallel("fan", {"type": "code", "definition": {"code": "x"}}))


def test_validate_spec_refuses_branches_that_are_not_objects() -> None:
    refused({"id": "fan", "type": "parallel", "definition": {"nodes": ["a", "b"]}})


def test_validate_spec_refuses_a_branch_pointer_to_an_unknown_node() -> None:
    refused(parallel("fan", pointer("p", "ghost")))


def test_validate_spec_refuses_a_branch_of_an_unknown_type() -> None:
    refused(parallel("fan", {"id": "x", "type": "teleport"}))


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)b"])
def test_validate_spec_refuses_a_regex_re2_cannot_run(pattern: str) -> None:
    # valid for Python's `re`, but conditions run on RE2 (linear time, no backtracking)
    message = refused(
        node("a", next_ids=["b"]), node("b", condition={"type": "regex", "term": pattern})
    )
    assert "RE2" in message


def scheduler(node_id: str, target: str) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "self_schedule",
        "definition": {"when": "PT1H", "target_node_id": target},
    }


def test_a_self_schedule_must_target_a_top_level_node() -> None:
    check(node("a", next_ids=["s"]), scheduler("s", "a"))
    assert "targets unknown node 'nowhere'" in refused(
        node("a", next_ids=["s"]), scheduler("s", "nowhere")
    )


def test_a_self_schedule_cannot_sit_in_a_parallel_branch() -> None:
    branches = {"nodes": [scheduler("s", "a")]}
    problem = refused(
        node("a", next_ids=["p"]), {"id": "p", "type": "parallel", "definition": branches}
    )
    assert "cannot sit in a parallel branch" in problem


def test_a_self_schedule_reschedules_between_1_and_100_times() -> None:
    too_many = scheduler("s", "s") | {
        "definition": {"when": "PT1H", "target_node_id": "s", "max_reschedules": 101}
    }
    assert "max_reschedules" in refused(too_many)
