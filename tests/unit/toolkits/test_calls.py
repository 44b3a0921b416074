"""Arguments to requests, and node input to arguments: no server needed."""

from __future__ import annotations

import pytest

from taskloom.toolkits.calls import BadArguments, arguments_from, prepare
from taskloom.toolkits.definition import (
    BoundOperation,
    Operation,
    Parameter,
    arguments_schema,
    split_asset_id,
)

GET_ITEM = Operation(
    id="getItem",
    method="GET",
    path="/items/{item_id}",
    parameters=[
        Parameter(name="item_id", location="path", required=True),
        Parameter(name="fields", location="query"),
        Parameter(name="X-Tenant", location="header"),
    ],
)
ADD_ITEM = Operation(
    id="add_item",
    method="POST",
    path="/items",
    body_schema={"type": "object"},
    body_required=True,
)


def bound(operation: Operation) -> BoundOperation:
    return BoundOperation("kit", "Kit", "https://api.example.com/v1", {"X-Key": "k"}, operation)


def test_prepare_fills_the_path_and_keeps_the_toolkits_own_headers() -> None:
    call = prepare(
        bound(GET_ITEM),
        {
            "path_params": {"item_id": "a b"},
            "query_params": {"fields": "name", "skip": None},
            "headers": {"X-Tenant": "t", "x-key": "mine"},
        },
    )
    assert call.url == "https://api.example.com/v1/items/a%20b"
    assert call.params == {"fields": "name"}
    assert call.headers == {"X-Tenant": "t", "X-Key": "k"}
    assert call.body is None


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({}, "path parameter 'item_id' is missing"),
        ({"path_params": "x"}, "path_params must be an object"),
        ({"body": {}}, "unknown argument groups"),
    ],
)
def test_prepare_refuses_arguments_that_cannot_make_the_request(
    args: dict[str, object], problem: str
) -> None:
    with pytest.raises(BadArguments, match=problem):
        prepare(bound(GET_ITEM), args)


def test_prepare_refuses_a_missing_required_body() -> None:
    with pytest.raises(BadArguments, match="body_params"):
        prepare(bound(ADD_ITEM), {})


def test_arguments_from_spreads_an_object_by_parameter_name() -> None:
    assert arguments_from({"item_id": 7, "fields": "a", "other": 1}, GET_ITEM) == {
        "path_params": {"item_id": 7},
        "query_params": {"fields": "a", "other": 1},
    }
    assert arguments_from('{"name": "tea"}', ADD_ITEM) == {"body_params": {"name": "tea"}}


def test_arguments_from_takes_the_argument_shape_as_it_is() -> None:
    args = {"path_params": {"item_id": 1}, "extra": True}
    assert arguments_from(args, GET_ITEM) is args


@pytest.mark.parametrize("data", ["order 42", ["a"], 3])
def test_arguments_from_refuses_what_is_not_an_object(data: object) -> None:
    with pytest.raises(BadArguments, match="fill_arguments_with_llm"):
        arguments_from(data, GET_ITEM)


def test_arguments_schema_requires_the_groups_with_required_parameters() -> None:
    schema = arguments_schema(GET_ITEM)
    assert schema["required"] == ["path_params"]
    assert schema["properties"]["path_params"]["required"] == ["item_id"]
    assert "headers" in schema["properties"]
    assert arguments_schema(ADD_ITEM)["required"] == ["body_params"]


def test_split_asset_id_at_the_first_underscore() -> None:
    assert split_asset_id("6f1c-kit_add_item") == ("6f1c-kit", "add_item")
    assert split_asset_id("6f1c-kit") == ("6f1c-kit", None)
