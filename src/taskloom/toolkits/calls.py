"""From a call's arguments to the HTTP request of an operation, and from a node's input to
a call's arguments. Pure: no I/O, so every decision is tested without a server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from taskloom.toolkits.definition import ARGUMENT_GROUPS, BoundOperation, Operation

GROUPS = ("path_params", "query_params", "headers", "body_params")


class BadArguments(ValueError):
    """The arguments cannot make a request of this operation; the message says why."""


@dataclass(frozen=True, slots=True)
class PreparedCall:
    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # JSON; None sends no body


def _group(args: dict[str, Any], name: str) -> dict[str, Any]:
    value = args.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadArguments(f"{name} must be an object")
    return value


def prepare(bound: BoundOperation, args: dict[str, Any]) -> PreparedCall:
    """The request `args` (`path_params`, `query_params`, `headers`, `body_params`) make.
    The toolkit's own headers (its credentials) win over a caller's of the same name."""
    operation = bound.operation
    unknown = sorted(set(args) - set(GROUPS))
    if unknown:
        raise BadArguments(f"unknown argument groups {unknown}: use {list(GROUPS)}")
    path_params = _group(args, "path_params")
    path = operation.path
    for param in operation.parameters:
        if param.location != "path":
            continue
        if param.name not in path_params:
            raise BadArguments(f"path parameter {param.name!r} is missing")
        path = path.replace("{" + param.name + "}", quote(_text(path_params[param.name]), safe=""))
    if "{" in path:  # a placeholder no declared parameter fills
        raise BadArguments(f"path {operation.path!r} has a placeholder with no value")
    query = _group(args, "query_params")
    for param in operation.parameters:
        if param.location == "query" and param.required and param.name not in query:
            raise BadArguments(f"query parameter {param.name!r} is missing")
    own = {name.lower() for name in bound.headers}
    headers = {
        str(name): _text(value)
        for name, value in _group(args, "headers").items()
        if str(name).lower() not in own and value is not None
    }
    body = args.get("body_params")
    if operation.body_required and body is None:
        raise BadArguments("body_params are missing")
    return PreparedCall(
        method=operation.method,
        url=bound.base_url + path,
        params={k: v for k, v in query.items() if v is not None},
        headers={**headers, **bound.headers},
        body=body,
    )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return (
        json.dumps(value, separators=(",", ":")) if isinstance(value, dict | list) else str(value)
    )


def arguments_from(data: Any, operation: Operation) -> dict[str, Any]:
    """A previous node's output as a call's arguments.

    An object with any of the argument groups (`path_params`, ...) is taken as it is. Any
    other object is spread by name: a key that names one of the operation's path, query or
    header parameters goes there, the rest is the JSON body (or, for an operation without
    a body, the query). A string that holds a JSON object is read as that object; other
    text cannot be arguments (an action node fills them with a model when asked to)."""
    if isinstance(data, str):
        try:
            data = json.loads(data) if data.strip() else {}
        except ValueError:
            data = None
    if not isinstance(data, dict):
        raise BadArguments(
            "the input is not a JSON object: give the action node JSON, or set "
            "`fill_arguments_with_llm` to have a model fill the arguments from text"
        )
    if any(group in data for group in GROUPS):
        return data
    where = {p.name: ARGUMENT_GROUPS[p.location] for p in operation.parameters}
    args: dict[str, dict[str, Any]] = {}
    rest: dict[str, Any] = {}
    for name, value in data.items():
        if name in where:
            args.setdefault(where[name], {})[name] = value
        else:
            rest[name] = value
    if rest:
        group = "body_params" if operation.body_schema is not None else "query_params"
        args.setdefault(group, {}).update(rest)
    return args
