"""A task's conversation as agno-style thread messages (docs/api.md)."""

from __future__ import annotations

from typing import Any

from taskloom.store.records import TurnRecord
from taskloom.store.turns import QUEUED


def _message(message_id: str, role: str, content: str | None, at: Any) -> dict[str, Any]:
    return {
        "id": message_id,
        "role": role,
        "content": content,
        "name": None,
        "tool_call_id": None,
        "tool_calls": None,
        "from_history": False,
        "created_at": int(at.timestamp()),
        "metrics": {},
    }


def thread_messages(turns: list[TurnRecord]) -> list[dict[str, Any]]:
    """Each turn's input as a `user` message, and its result (once there is one) as the
    `assistant` message that answered it. Queued turns are not part of the thread yet."""
    messages = []
    for turn in turns:
        if turn.status == QUEUED:
            continue
        base = f"{turn.task_id}:{turn.turn}"
        messages.append(
            _message(f"{base}:user", "user", turn.input.get("text", ""), turn.created_at)
        )
        if turn.finished_at is not None and turn.result is not None:
            messages.append(
                _message(f"{base}:assistant", "assistant", turn.result, turn.finished_at)
            )
    return messages
