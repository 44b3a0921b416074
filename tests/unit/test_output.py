"""shape_result without I/O: the END block turns the last output into the task's `result`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from taskloom.workflows.output import shape_result


@pytest.mark.parametrize("output_format", ["text", "markdown"])
def test_shape_result_text_keeps_strings(output_format: Any) -> None:
    assert shape_result("# Hi\n\nthere", output_format) == "# Hi\n\nthere"


@pytest.mark.parametrize("output_format", ["text", "markdown"])
def test_shape_result_text_writes_json_for_other_values(output_format: Any) -> None:
    assert json.loads(shape_result({"a": [1, 2]}, output_format)) == {"a": [1, 2]}
    assert shape_result(3, output_format) == "3"
    assert shape_result(True, output_format) == "true"


def test_shape_result_text_keeps_non_ascii() -> None:
    assert shape_result({"name": "Zoë"}, "text") == '{"name": "Zoë"}'


def test_shape_result_json_writes_objects_as_json_text() -> None:
    assert json.loads(shape_result({"a": None, "b": [1.5]}, "json")) == {"a": None, "b": [1.5]}


def test_shape_result_json_wraps_plain_text_as_a_json_string() -> None:
    assert shape_result("hello", "json") == '"hello"'
    assert json.loads(shape_result("hello", "json")) == "hello"


def test_shape_result_json_keeps_text_that_already_holds_json() -> None:
    assert shape_result('{"a": 1}', "json") == '{"a": 1}'


def test_shape_result_json_is_always_parseable() -> None:
    for output in ["x", "", "{broken", 0, None, [1, "a"], {"k": {"n": 1}}]:
        json.loads(shape_result(output, "json"))


def test_shape_result_json_keeps_non_ascii() -> None:
    assert shape_result(["ß"], "json") == '["ß"]'


def test_shape_result_voice_treats_output_as_text() -> None:
    assert shape_result("spoken words", "voice") == "spoken words"
