"""Edge conditions: does a node's output send the run down this edge? Pure functions."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from taskloom.workflows.definition import Condition

_MISSING = object()


def lookup(data: Any, path: str | None) -> Any:
    """Follow a dot path (`input.client_id`, `items.0.name`) into a node's output.

    A string output that holds JSON is looked into as JSON. The leading `input.` names the
    data itself, as in the contract's examples.
    """
    if not path:
        return data
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            return _MISSING
    parts = path.split(".")
    if parts[0] == "input" and not (isinstance(data, dict) and "input" in data):
        parts = parts[1:]
    for part in parts:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return _MISSING
    return data


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    # "nan" and "inf" are words here, not numbers: they compare as text
    return number if number is not None and math.isfinite(number) else None


def _equal(left: Any, right: Any) -> bool:
    a, b = _as_number(left), _as_number(right)
    if a is not None and b is not None:
        return a == b
    return as_text(left) == as_text(right)


def _compare(kind: str, left: Any, right: Any) -> bool:
    a, b = _as_number(left), _as_number(right)
    if a is None or b is None:
        return False
    return {"gt": a > b, "lt": a < b, "gte": a >= b, "lte": a <= b}[kind]


def matches(condition: Condition, data: Any, *, route: str | None = None) -> bool:
    """Whether `data` (and the route a classifier picked) satisfies `condition`.

    `else` never matches here: the router takes an `else` edge only when nothing else did.
    """
    kind = condition.type
    if kind == "else":
        return False
    if condition.group_id is not None:
        return route == condition.group_id
    if kind is None:
        return True
    value = lookup(data, condition.path)
    if kind == "not_empty":
        return value is not _MISSING and value not in (None, "", [], {})
    if value is _MISSING:
        return False
    operand = condition.term if condition.value is None else condition.value
    if kind in ("regex", "contains"):
        if operand is None:
            return False  # nothing to look for: no edge should be taken on an empty pattern
        if kind == "regex":
            return re.search(as_text(operand), as_text(value)) is not None
        return as_text(operand) in as_text(value)
    if kind == "equal":
        return _equal(value, operand)
    if kind == "not_equal":
        return not _equal(value, operand)
    return _compare(kind, value, operand)
