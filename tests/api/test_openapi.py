"""The published /openapi.json says what the API answers: every path parameter declared,
every error status a route can send documented in the shape it is sent (schemathesis checks
the replies against it: scripts/fuzz)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from taskloom.api.app import create_app
from taskloom.config import Settings

OPERATIONS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    app = create_app(Settings(database_url="sqlite:///never-opened.db"))
    openapi: dict[str, Any] = app.openapi()
    return openapi


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        if path != "/health"
        for method, operation in item.items()
        if method in OPERATIONS
    ]


def test_openapi_declares_every_path_parameter(schema: dict[str, Any]) -> None:
    undeclared = [
        (method, path, name)
        for method, path, operation in operations(schema)
        for name in re.findall(r"{([^}:]+)", path)
        if name not in {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
    ]
    assert undeclared == []


def test_openapi_documents_the_errors_every_route_can_send(schema: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in operations(schema):
        expected = {"401", "404", "422", "503"}
        if method != "get":
            expected.add("409")
        if method in ("post", "put", "patch"):
            expected.add("413")
        if absent := expected - set(operation["responses"]):
            missing.append((method, path, sorted(absent)))
    assert missing == []


def test_openapi_error_replies_have_the_shape_they_are_sent_in(schema: dict[str, Any]) -> None:
    for _method, _path, operation in operations(schema):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                name = "HTTPValidationError" if status == "422" else "ErrorReply"
                assert ref == f"#/components/schemas/{name}", (status, response)
