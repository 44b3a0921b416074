"""What the first node of a run is given: the invoke's `input`, in one documented shape.

An input that is only text (`{"text": "..."}`) is given as that text, as a plain string, and
so is text with a `user`: who asks is not part of what is asked, and the xpander-sdk attaches
a user to most calls, which must not turn a text workflow's input into an object. With content
beyond the text (`files`, `attachments`, or fields of the caller's own), the first node gets
the whole input object, the user included, with empty `files` and null fields left out;
`text` is always there. So a node can read `input.ticket` or `input.user.email` in a
condition, and an LLM node sees the files beside the text. A first node that declares
`input_type: "text"` always gets the text alone.
"""

from __future__ import annotations

from typing import Any

# what an input may carry without ceasing to be text: the caller, not content
_METADATA = frozenset({"text", "user"})


def first_node_input(task_input: dict[str, Any], *, input_type: str | None = None) -> Any:
    shown = {
        name: value
        for name, value in task_input.items()
        if value is not None and value != [] and name != "text"
    }
    text = task_input.get("text", "")
    text = "" if text is None else text
    if input_type == "text" or shown.keys() <= _METADATA:
        return text
    return {"text": text, **shown}
