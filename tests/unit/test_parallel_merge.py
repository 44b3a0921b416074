"""merge_outputs without I/O: how a parallel node joins its branches' outputs."""

from __future__ import annotations

from taskloom.nodes.parallel import merge_outputs


def test_merge_outputs_json_branches_merge_into_one_object() -> None:
    merged = merge_outputs([("alpha", {"a": 1}), ("beta", [1, 2]), ("gamma", 3)])
    assert merged == {"alpha": {"a": 1}, "beta": [1, 2], "gamma": 3}


def test_merge_outputs_json_keeps_branch_order() -> None:
    merged = merge_outputs([("z", 1), ("a", 2), ("m", 3)])
    assert isinstance(merged, dict)
    assert list(merged) == ["z", "a", "m"]


def test_merge_outputs_null_outputs_stay_json() -> None:
    assert merge_outputs([("a", None), ("b", False)]) == {"a": None, "b": False}


def test_merge_outputs_all_text_concatenates_with_headers() -> None:
    assert merge_outputs([("first", "one"), ("second", "two")]) == (
        "## first\none\n\n## second\ntwo"
    )


def test_merge_outputs_any_text_turns_everything_into_text() -> None:
    merged = merge_outputs([("data", {"k": "ü"}), ("note", "plain")])
    assert merged == '## data\n{"k": "ü"}\n\n## note\nplain'


def test_merge_outputs_empty_text_still_counts_as_text() -> None:
    assert merge_outputs([("a", ""), ("b", 1)]) == "## a\n\n\n## b\n1"


def test_merge_outputs_single_branch() -> None:
    assert merge_outputs([("only", {"x": 1})]) == {"only": {"x": 1}}
    assert merge_outputs([("only", "x")]) == "## only\nx"
