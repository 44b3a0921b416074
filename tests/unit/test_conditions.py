"""Edge conditions without I/O: `lookup` follows a dot path, `matches` decides an edge."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from taskloom.workflows.conditions import BadPattern, compile_regex, lookup, matches
from taskloom.workflows.definition import Condition


def cond(**fields: Any) -> Condition:
    return Condition.model_validate(fields)


def missing(value: Any) -> bool:
    """`lookup` answers a private sentinel for a path that leads nowhere."""
    return value is not None and type(value) is object


# -- lookup --------------------------------------------------------------------------------


def test_lookup_without_path_returns_the_data() -> None:
    data = {"a": 1}
    assert lookup(data, None) is data
    assert lookup("text", "") == "text"


def test_lookup_follows_dict_keys() -> None:
    assert lookup({"a": {"b": {"c": 3}}}, "a.b.c") == 3


def test_lookup_follows_list_indexes() -> None:
    assert lookup({"items": [{"name": "x"}, {"name": "y"}]}, "items.1.name") == "y"


def test_lookup_input_prefix_names_the_data_itself() -> None:
    assert lookup({"client_id": "c-1"}, "input.client_id") == "c-1"


def test_lookup_input_prefix_is_a_key_when_the_data_has_one() -> None:
    assert lookup({"input": {"client_id": "c-2"}}, "input.client_id") == "c-2"


def test_lookup_reads_a_string_holding_json() -> None:
    assert lookup('{"score": 7}', "score") == 7


def test_lookup_plain_text_with_a_path_is_missing() -> None:
    assert missing(lookup("not json", "score"))


def test_lookup_unknown_key_is_missing() -> None:
    assert missing(lookup({"a": 1}, "b"))


def test_lookup_index_out_of_range_is_missing() -> None:
    assert missing(lookup([1, 2], "2"))


def test_lookup_into_a_scalar_is_missing() -> None:
    assert missing(lookup({"a": 5}, "a.b"))


def test_lookup_keeps_falsy_values() -> None:
    assert lookup({"a": 0}, "a") == 0
    assert lookup({"a": None}, "a") is None
    assert lookup({"a": ""}, "a") == ""


# -- matches: each type ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "data", "expected"),
    [
        ({"type": "regex", "term": r"^\d{3}$"}, "123", True),
        ({"type": "regex", "term": r"^\d{3}$"}, "1234", False),
        ({"type": "regex", "term": "b"}, "abc", True),  # search, not fullmatch
        ({"type": "regex", "term": '"k":1'}, {"k": 1}, True),  # JSON output as compact text
        ({"type": "contains", "term": "needle"}, "hay needle hay", True),
        ({"type": "contains", "term": "needle"}, "haystack", False),
        ({"type": "contains", "term": "x"}, ["x", "y"], True),
        ({"type": "equal", "value": "a"}, "a", True),
        ({"type": "equal", "value": "a"}, "A", False),
        ({"type": "equal", "value": 3}, 3.0, True),
        ({"type": "equal", "value": 3}, "3", True),
        ({"type": "equal", "term": "abc"}, "abc", True),
        ({"type": "equal", "value": {"a": [1]}}, {"a": [1]}, True),
        ({"type": "not_equal", "value": "a"}, "b", True),
        ({"type": "not_equal", "value": "a"}, "a", False),
        ({"type": "not_equal", "value": 2}, "2.0", False),
        ({"type": "gt", "value": 5}, 6, True),
        ({"type": "gt", "value": 5}, 5, False),
        ({"type": "gt", "value": "5"}, "10", True),  # numbers, not text order
        ({"type": "lt", "value": 5}, 4.5, True),
        ({"type": "lt", "value": 5}, 5, False),
        ({"type": "gte", "value": 5}, 5, True),
        ({"type": "gte", "value": 5}, 4, False),
        ({"type": "lte", "value": 5}, 5, True),
        ({"type": "lte", "value": 5}, 6, False),
        ({"type": "gt", "value": 5}, "many", False),
        ({"type": "gt", "value": 0}, True, False),  # a bool is not a number
        ({"type": "not_empty"}, "x", True),
        ({"type": "not_empty"}, "", False),
        ({"type": "not_empty"}, [], False),
        ({"type": "not_empty"}, {}, False),
        ({"type": "not_empty"}, None, False),
        ({"type": "not_empty"}, 0, True),
        ({"type": "not_empty"}, False, True),
    ],
)
def test_matches_condition_type(condition: dict[str, Any], data: Any, expected: bool) -> None:
    assert matches(cond(**condition), data) is expected


def test_matches_else_never_matches_by_itself() -> None:
    assert matches(cond(type="else"), "anything") is False


def test_matches_no_type_always_matches() -> None:
    assert matches(cond(), "anything") is True


def test_matches_value_takes_precedence_over_term() -> None:
    assert matches(cond(type="equal", term="a", value="b"), "b") is True


def test_matches_group_id_compares_the_route() -> None:
    assert matches(cond(group_id="billing"), "x", route="billing") is True
    assert matches(cond(group_id="billing"), "x", route="support") is False


def test_matches_identical_text_is_equal__nan_text() -> None:
    assert matches(cond(type="equal", value="nan"), "nan") is True


def test_matches_identical_text_is_not_not_equal__nan_text() -> None:
    assert matches(cond(type="not_equal", value="NaN"), "NaN") is False


# -- matches: paths --------------------------------------------------------------------------


def test_matches_path_reads_json_output() -> None:
    assert matches(cond(type="gt", path="score", value=5), {"score": 7}) is True
    assert matches(cond(type="gt", path="score", value=5), {"score": 3}) is False


def test_matches_path_reads_json_text_output() -> None:
    assert matches(cond(type="gte", path="score", value=7), '{"score": 7}') is True


def test_matches_path_with_input_prefix() -> None:
    assert matches(cond(type="equal", path="input.kind", value="vip"), {"kind": "vip"}) is True


@pytest.mark.parametrize("kind", ["regex", "contains", "equal", "gt", "lt", "gte", "lte"])
def test_matches_missing_path_is_false(kind: str) -> None:
    condition = cond(type=kind, path="score", term=".*", value=0)
    assert matches(condition, {"other": 1}) is False


def test_matches_not_empty_missing_path_is_false() -> None:
    assert matches(cond(type="not_empty", path="score"), {"other": 1}) is False


def test_matches_not_empty_path_to_falsy_number_is_true() -> None:
    assert matches(cond(type="not_empty", path="score"), {"score": 0}) is True


# -- regex: RE2, linear time ------------------------------------------------------------------


@pytest.mark.timeout(10)  # a backtracking engine takes years here; the timeout only backstops
async def test_matches_regex__catastrophic_pattern_answers_and_the_loop_keeps_beating() -> None:
    # `(a+)+$` against a's ending in "b" makes a backtracking engine try ~2**40 splits on the
    # event loop; RE2 answers in one pass, so a heartbeat queued before it still runs
    beat = asyncio.Event()
    heartbeat = asyncio.get_running_loop().call_soon(beat.set)
    condition = cond(type="regex", term=r"(a+)+$")

    async def route() -> bool:
        return matches(condition, "a" * 40 + "b")

    assert await asyncio.create_task(route()) is False
    await beat.wait()
    assert not heartbeat.cancelled()


def test_matches_regex_reads_characters_not_bytes() -> None:
    assert matches(cond(type="regex", term=r"^caf.$"), "café") is True
    assert matches(cond(type="regex", term=r"^\pL+$"), "日本") is True
    assert matches(cond(type="regex", term=r"^\w+$"), "日本") is False  # RE2: \w is ASCII


def test_matches_regex__text_that_is_not_valid_utf8_is_still_searched() -> None:
    assert matches(cond(type="regex", term="ok"), "ok \ud800") is True


def test_compile_regex_refuses_what_re2_cannot_run() -> None:
    for pattern in (r"(a)\1", r"(?=a)b", "(open"):
        with pytest.raises(BadPattern):
            compile_regex(pattern)
