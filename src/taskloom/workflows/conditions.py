"""Edge conditions: does a node's output send the run down this edge? Pure functions.

A `regex` condition is a user's pattern run on the worker's event loop, so it runs on RE2,
whose time is linear in the text: a backtracking engine (Python's `re`) can spend years on
`(a+)+$`, stalling every task, heartbeat and lease of the process. RE2 has no backreferences
or lookaround (validation refuses such patterns when the workflow is saved), and its word,
digit and boundary classes are ASCII: `\\pL` matches any letter.
"""

from __future__ import annotations

import json
import math
from typing import Any

import re2

from taskloom.workflows.definition import Condition

_MISSING = object()


class BadPattern(ValueError):
    """A `regex` condition RE2 cannot compile; the message says why."""


def compile_regex(pattern: str) -> Any:
    """The compiled RE2 pattern (cached by the library); `BadPattern` if RE2 refuses it."""
    options = re2.Options()
    options.log_errors = False  # a user's typo is a 422, not a line on the server's stderr
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", errors="replace")
        raise BadPattern(
            f"{reason} (patterns use RE2 syntax: no backreferences or lookaround)"
        ) from exc


def _search(pattern: str, text: str) -> bool:
    try:
        return compile_regex(pattern).search(text) is not None
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800"): RE2 reads UTF-8
        return compile_regex(pattern).search(text.encode("utf-8", "replace").decode()) is not None


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
            try:
                return _search(as_text(operand), as_text(value))
            except BadPattern:
                return False  # validation refuses these; a definition stored before cannot route

        return as_text(operand) in as_text(value)
    if kind == "equal":
        return _equal(value, operand)
    if kind == "not_equal":
        return not _equal(value, operand)
    return _compare(kind, value, operand)
