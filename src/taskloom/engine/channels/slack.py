"""Slack: a message posted with the Web API's `chat.postMessage` under the workflow's bot
token, with approve / deny buttons for a wait.

Slack answers HTTP 200 with `{"ok": false, "error": ...}` when it refuses; those are failed
attempts too. Errors that no retry can fix (a bad token, an unknown channel) are final; a
rate limit (HTTP 429 or `ratelimited`) waits as long as `Retry-After` says.
"""

from __future__ import annotations

from typing import Any, ClassVar

from taskloom.engine.channels.base import Outcome, Outgoing
from taskloom.engine.channels.text import Message
from taskloom.llm.egress import check_scheme
from taskloom.llm.tools.http_client import SharedHttpClient

SECTION_CHARS = 3000  # Slack refuses a section block's text past this
# Slack's errors that say the request itself is wrong: sending it again cannot help
FINAL_ERRORS = frozenset(
    {
        "account_inactive",
        "channel_not_found",
        "invalid_auth",
        "invalid_arguments",
        "invalid_blocks",
        "is_archived",
        "missing_scope",
        "msg_too_long",
        "no_permission",
        "no_text",
        "not_allowed_token_type",
        "not_authed",
        "not_in_channel",
        "restricted_action",
        "token_expired",
        "token_revoked",
    }
)
# where a bot token may sit in the xpander-sdk's `credentials` object
TOKEN_KEYS = ("bot_token", "token", "access_token", "slack_bot_token")


def bot_token(credentials: Any) -> str | None:
    if isinstance(credentials, str):
        return credentials or None
    if isinstance(credentials, dict):
        for key in TOKEN_KEYS:
            if isinstance(credentials.get(key), str) and credentials[key]:
                return str(credentials[key])
    return None


def compose(channel: str, message: Message) -> dict[str, Any]:
    """The `chat.postMessage` body, less the token."""
    text = f"*{message.subject}*\n{message.body}".strip()
    if len(text) > SECTION_CHARS:
        text = text[: SECTION_CHARS - 1] + "…"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if message.links:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": link.text[:75]},
                        "url": link.url,
                        **({"style": "primary"} if index == 0 else {}),
                    }
                    for index, link in enumerate(message.links)
                ],
            }
        )
    return {"channel": channel, "text": message.subject, "blocks": blocks}


def outcome(status: int, reply: Any, retry_after: str | None) -> Outcome:
    """What Slack's answer means for the delivery (pure: tested without Slack)."""
    wait = _seconds(retry_after)
    error = reply.get("error") if isinstance(reply, dict) else None
    if status == 429 or error == "ratelimited":
        return Outcome(ok=False, status_code=status, error="Slack: ratelimited", retry_after_s=wait)
    if not 200 <= status < 300:
        return Outcome(ok=False, status_code=status, error=f"Slack answered {status}")
    if isinstance(reply, dict) and reply.get("ok") is True:
        return Outcome(ok=True, status_code=status)
    said = str(error or "a reply that is not Slack's")
    return Outcome(ok=False, status_code=status, error=f"Slack: {said}", final=said in FINAL_ERRORS)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class SlackChannel:
    name: ClassVar[str] = "slack"

    def __init__(self, http: SharedHttpClient, api_url: str) -> None:
        self._http = http
        self._url = api_url.rstrip("/") + "/chat.postMessage"

    async def send(self, outgoing: Outgoing, timeout_s: float) -> Outcome:
        if not outgoing.credential:
            return Outcome(ok=False, error="no Slack bot token in `credentials`", final=True)
        check_scheme(self._url)
        reply = await self._http.get().post(
            self._url,
            json=outgoing.delivery.payload,
            headers={"authorization": f"Bearer {outgoing.credential}"},
            timeout=timeout_s,
        )
        try:
            body = reply.json()
        except ValueError:
            body = None
        return outcome(reply.status_code, body, reply.headers.get("retry-after"))
