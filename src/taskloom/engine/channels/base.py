"""The interface every channel's sender implements, and what one attempt comes to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from taskloom.store.records import DeliveryRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    """One attempt at a delivery, with what only the sending process may see."""

    delivery: DeliveryRecord
    credential: str | None  # the channel's credential, unsealed (a Slack bot token)
    secret_headers: dict[str, str]  # a webhook's own headers, unsealed
    signing_secrets: list[str]  # the organization's webhook secrets, newest first
    now: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    # no later attempt can do better (mail is not set up, Slack refused the token)
    final: bool = False
    # the receiver said when to come back (HTTP Retry-After)
    retry_after_s: float | None = None


class Channel(Protocol):
    name: ClassVar[str]

    async def send(self, outgoing: Outgoing, timeout_s: float) -> Outcome:
        """One attempt. Raising counts as a failed attempt that a later one may get past."""
        ...
