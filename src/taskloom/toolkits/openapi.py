"""An OpenAPI 3 document as a toolkit's operations. Pure: the document is already parsed.

Each `paths` entry's GET, POST, PUT, PATCH and DELETE becomes an operation named by its
`operationId` (or by method and path when it has none). Path, query and header parameters
are kept with their schemas; a JSON request body keeps its schema. Local `$ref`s
(`#/components/...`) are inlined, to a bounded depth: a model is shown whole schemas.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

from taskloom.toolkits.definition import Operation, Parameter

_METHODS = ("get", "post", "put", "patch", "delete")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
_MAX_REF_DEPTH = 8


class NotOpenApi(ValueError):
    """The document is not an OpenAPI 3 document taskloom can import; the message says why."""


def base_url_of(document: dict[str, Any], *, fetched_from: str | None = None) -> str | None:
    """The first server's URL; a relative one is resolved against where the document came
    from. None when the document names no usable server."""
    servers = document.get("servers") or []
    url = servers[0].get("url") if servers and isinstance(servers[0], dict) else None
    if not isinstance(url, str) or not url:
        return None
    if "{" in url:  # server variables: take their defaults
        variables = servers[0].get("variables") or {}
        for name, variable in variables.items():
            if isinstance(variable, dict):
                url = url.replace("{" + name + "}", str(variable.get("default", "")))
    if not url.lower().startswith(("http://", "https://")):
        return urljoin(fetched_from, url) if fetched_from else None
    return url


def operations_of(document: Any, *, max_operations: int) -> list[Operation]:
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3"):
        raise NotOpenApi("not an OpenAPI 3 document (no `openapi: 3.x` field)")
    paths = document.get("paths")
    if not isinstance(paths, dict):
        raise NotOpenApi("the document has no `paths`")
    operations: list[Operation] = []
    seen: set[str] = set()
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters") or []
        for method in _METHODS:
            spec = item.get(method)
            if not isinstance(spec, dict):
                continue
            operation = _operation(document, str(path), method, spec, shared)
            if operation.id in seen:
                raise NotOpenApi(f"operation id {operation.id!r} is used more than once")
            seen.add(operation.id)
            operations.append(operation)
            if len(operations) > max_operations:
                raise NotOpenApi(f"a toolkit may have at most {max_operations} operations")
    return operations


def _operation(
    document: dict[str, Any], path: str, method: str, spec: dict[str, Any], shared: list[Any]
) -> Operation:
    named = spec.get("operationId")
    operation_id = _UNSAFE.sub("_", str(named)) if named else _derived_id(method, path)
    parameters: dict[tuple[str, str], Parameter] = {}
    for raw in [*shared, *(spec.get("parameters") or [])]:  # the operation's own win
        param = _resolve(document, raw, 0)
        if not isinstance(param, dict) or param.get("in") not in ("path", "query", "header"):
            continue
        parameter = Parameter(
            name=str(param.get("name")),
            location=param["in"],
            required=bool(param.get("required")) or param["in"] == "path",
            description=str(param.get("description") or ""),
            json_schema=_resolve(document, param.get("schema") or {"type": "string"}, 0),
        )
        parameters[(parameter.location, parameter.name)] = parameter
    body_schema, body_required = None, False
    body = _resolve(document, spec.get("requestBody"), 0)
    if isinstance(body, dict):
        content = body.get("content") or {}
        media = next((content[k] for k in content if "json" in k), None)
        if isinstance(media, dict):
            body_schema = _resolve(document, media.get("schema") or {}, 0)
            body_required = bool(body.get("required"))
    return Operation(
        id=operation_id[:128],
        name=str(spec.get("summary") or named or operation_id)[:255],
        description=str(spec.get("description") or spec.get("summary") or ""),
        method=method.upper(),
        path=path,
        parameters=list(parameters.values()),
        body_schema=body_schema,
        body_required=body_required,
    )


def _derived_id(method: str, path: str) -> str:
    words = _UNSAFE.sub("_", path.replace("{", "").replace("}", "")).strip("_")
    return f"{method}_{words}" if words else method


def _resolve(document: dict[str, Any], node: Any, depth: int) -> Any:
    """`node` with every local `$ref` in it inlined; past the depth limit a reference becomes
    an open schema (`{}`), so a self-referencing schema ends."""
    if isinstance(node, list):
        return [_resolve(document, item, depth) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        if depth >= _MAX_REF_DEPTH or not ref.startswith("#/"):
            return {}
        target: Any = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        return _resolve(document, target, depth + 1) if target is not None else {}
    return {key: _resolve(document, value, depth) for key, value in node.items()}
