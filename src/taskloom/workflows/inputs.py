"""What the first node of a run is given: the invoke's `input`, in one documented shape.

An input that is only text (`{"text": "..."}`, with no files, no user and nothing else) is
given as that text, as a plain string. Anything more (`files`, `user`, `attachments`, or
fields of the caller's own) and the first node gets the whole input object, with empty
`files` and null fields left out; `text` is always there. So a node can read
`input.user.email` in a condition, and an LLM node sees the user and the files beside the
text. A first node that declares `input_type: "text"` always gets the text alone: a
workflow written for text keeps working when callers attach a user or files.
"""

from __future__ import annotations

from typing import Any


def first_node_input(task_input: dict[str, Any], *, input_type: str | None = None) -> Any:
    shown = {
        name: value
        for name, value in task_input.items()
        if value is not None and value != [] and name != "text"
    }
    text = task_input.get("text", "")
    text = "" if text is None else text
    if not shown or input_type == "text":
        return text
    return {"text": text, **shown}
