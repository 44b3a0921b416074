"""The words of a notification for people (email and Slack): a subject, a body, and for a
wait the approve / deny links with their button texts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RESULT_PREVIEW_CHARS = 2000  # a task's result is quoted up to this length, then cut


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    subject: str
    body: str
    links: tuple[Link, ...] = ()


def completion_message(entry: dict[str, Any], task: dict[str, Any]) -> Message:
    """A task ended: the entry's own subject and body, or ones that say how it ended."""
    status = task.get("status") or "finished"
    subject = entry.get("subject") or f"Task {task.get('id')} {status}"
    if entry.get("body"):
        return Message(subject=subject, body=str(entry["body"]))
    lines = [f"Task {task.get('id')} ended {status}."]
    reason = task.get("status_reason")
    if reason and status != "completed":
        lines.append(f"Reason: {reason}")
    result = task.get("result")
    if result:
        text = str(result)
        cut = text[:RESULT_PREVIEW_CHARS] + ("…" if len(text) > RESULT_PREVIEW_CHARS else "")
        lines += ["", cut]
    return Message(subject=subject, body="\n".join(lines))


def wait_message(entry: dict[str, Any], request: dict[str, Any]) -> Message:
    """A task waits for a decision: what is asked, and (for `hitl`) the links that decide."""
    subject = entry.get("subject") or str(request.get("title") or "Approval needed")
    lines = [str(entry.get("body") or request.get("description") or "")]
    if request.get("content"):
        lines += ["", str(request["content"])]
    if request.get("expires_at"):
        lines += ["", f"Decide before {request['expires_at']}."]
    links: list[Link] = []
    if request.get("approve_url") and request.get("deny_url"):
        links = [
            Link(
                text=str(entry.get("approve_button_text") or "Approve"), url=request["approve_url"]
            ),
            Link(text=str(entry.get("deny_button_text") or "Deny"), url=request["deny_url"]),
        ]
    return Message(subject=subject, body="\n".join(lines).strip(), links=tuple(links))
