"""`notification_settings` as a definition is stored: its shape checked (a clear 422 rather
than a notification that silently never goes out) and its Slack bot tokens sealed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from taskloom import errors
from taskloom.engine.channels.targets import Seal, sealed_credentials

MAX_ENTRIES = 100  # per channel and outcome


class _Entry(BaseModel):
    model_config = ConfigDict(extra="allow")

    subject: str | None = Field(default=None, max_length=1000)
    body: str | None = Field(default=None, max_length=100_000)


class WebhookEntry(_Entry):
    url: str = Field(min_length=1, max_length=2048)
    headers: dict[str, str] | None = None


class EmailEntry(_Entry):
    to: list[str] = Field(min_length=1)

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or len(address) > 320 or any(c in address for c in "\r\n,"):
                raise ValueError(f"{address!r} is not an email address")
        return value


class SlackEntry(_Entry):
    channels: list[str] = Field(min_length=1)
    credentials: dict[str, Any] | str | None = Field(default=None, repr=False)


class ByChannel(BaseModel):
    model_config = ConfigDict(extra="allow")

    webhook: list[WebhookEntry] | None = Field(default=None, max_length=MAX_ENTRIES)
    email: list[EmailEntry] | None = Field(default=None, max_length=MAX_ENTRIES)
    slack: list[SlackEntry] | None = Field(default=None, max_length=MAX_ENTRIES)


class NotificationSettings(BaseModel):
    model_config = ConfigDict(extra="allow")

    on_success: ByChannel | None = None
    on_error: ByChannel | None = None


def stored_notifications(definition: dict[str, Any], seal: Seal) -> dict[str, Any]:
    """`definition` as it may be stored: `notification_settings` checked, Slack bot tokens
    (there and in wait nodes) sealed."""
    settings = definition.get("notification_settings")
    if settings is not None:
        try:
            NotificationSettings.model_validate(settings)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in ("notification_settings", *first["loc"]))
            raise errors.InvalidRequest(f"{where}: {first['msg']}") from exc
    return sealed_credentials(definition, seal)
