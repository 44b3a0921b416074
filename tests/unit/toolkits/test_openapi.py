"""OpenAPI 3 documents as operations."""

from __future__ import annotations

from typing import Any

import pytest

from taskloom.toolkits.openapi import NotOpenApi, base_url_of, operations_of


def document(paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "t"}, "paths": paths, **extra}


def test_operations_keep_parameters_and_inline_body_refs() -> None:
    doc = document(
        {
            "/pets/{id}": {
                "parameters": [{"$ref": "#/components/parameters/Id"}],
                "put": {
                    "operationId": "update pet",
                    "parameters": [{"name": "dry", "in": "query"}, {"name": "c", "in": "cookie"}],
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        }
                    },
                },
                "get": {},
            }
        },
        components={
            "parameters": {"Id": {"name": "id", "in": "path", "schema": {"type": "integer"}}},
            "schemas": {
                "Pet": {
                    "type": "object",
                    "properties": {"child": {"$ref": "#/components/schemas/Pet"}},
                }
            },
        },
    )
    get, put = operations_of(document=doc, max_operations=10)  # in method order
    assert (put.id, put.method, get.id) == ("update_pet", "PUT", "get_pets_id")
    assert [(p.name, p.location, p.required) for p in put.parameters] == [
        ("id", "path", True),
        ("dry", "query", False),
    ]
    assert put.parameters[0].json_schema == {"type": "integer"}
    assert put.body_schema is not None
    assert put.body_schema["properties"]["child"]["type"] == "object"  # inlined, then bounded
    assert get.body_schema is None


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"swagger": "2.0", "paths": {}}, "not an OpenAPI 3"),
        ({"openapi": "3.0.0"}, "no `paths`"),
        (
            document({"/a": {"get": {"operationId": "x"}}, "/b": {"get": {"operationId": "x"}}}),
            "more than once",
        ),
        (document({f"/{i}": {"get": {}} for i in range(3)}), "at most 2 operations"),
    ],
)
def test_documents_that_cannot_be_imported(doc: dict[str, Any], problem: str) -> None:
    with pytest.raises(NotOpenApi, match=problem):
        operations_of(doc, max_operations=2)


def test_base_url_from_servers() -> None:
    relative = {"servers": [{"url": "/v2"}]}
    assert base_url_of(relative, fetched_from="http://h:1/spec/openapi.json") == "http://h:1/v2"
    assert base_url_of(relative) is None
    templated = {
        "servers": [{"url": "https://{env}.example.com", "variables": {"env": {"default": "api"}}}]
    }
    assert base_url_of(templated) == "https://api.example.com"
    assert base_url_of({}) is None
