"""Who to tell, read from the xpander-sdk's shapes (`notification_settings.on_success` /
`on_error` and a wait node's NotificationDetails) into the entries a task keeps.

An entry is kept with its credentials sealed (encrypted), or with the reason it cannot be
sent (`refused`), which its delivery then records as a failure: a notification is never
dropped in silence. Pure, but for the `seal` it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from taskloom import errors
from taskloom.engine.channels import headers
from taskloom.engine.channels.slack import bot_token

Seal = Callable[[str], str]  # encrypts a credential; raises errors.InvalidRequest without a key
CHANNELS = ("webhook", "email", "slack")
SEALED = "sealed"  # `credentials: {"sealed": ...}`: a bot token as a stored definition keeps it
_TEXTS = ("subject", "body", "approve_button_text", "deny_button_text")


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetRules:
    seal: Seal | None = None
    max_recipients: int = 50
    max_channels: int = 20


def settings_entries(
    definition: dict[str, Any], rules: TargetRules
) -> dict[str, list[dict[str, Any]]] | None:
    """The entries of `notification_settings`, per outcome, as a task keeps them."""
    settings = definition.get("notification_settings")
    if not isinstance(settings, dict):
        return None
    kept: dict[str, list[dict[str, Any]]] = {}
    for outcome in ("on_success", "on_error"):
        by_channel = settings.get(outcome)
        if not isinstance(by_channel, dict):
            continue
        entries = [
            entry
            for channel in CHANNELS
            for raw in _listed(by_channel.get(channel))
            if (entry := channel_entry(channel, raw, rules)) is not None
        ]
        if entries:
            kept[outcome] = entries
    return kept or None


def details_entries(details: dict[str, Any], rules: TargetRules) -> list[dict[str, Any]]:
    """A wait node's NotificationDetails: one object that may name a URL, recipients and
    Slack channels at once."""
    return [
        entry
        for channel in CHANNELS
        if (entry := channel_entry(channel, details, rules)) is not None
    ]


def channel_entry(channel: str, raw: Any, rules: TargetRules) -> dict[str, Any] | None:
    """One entry, or None when `raw` does not name anyone on this channel."""
    if not isinstance(raw, dict):
        return None
    texts = {key: str(raw[key]) for key in _TEXTS if raw.get(key)}
    if channel == "webhook":
        if not raw.get("url"):
            return None
        return {
            "channel": channel,
            "url": str(raw["url"]),
            **headers.for_task(raw, rules.seal),
            **texts,
        }
    if channel == "email":
        to = [str(address) for address in _listed(raw.get("to")) if address]
        if not to:
            return None
        entry = {"channel": channel, "to": to, **texts}
        if len(to) > rules.max_recipients:
            entry["refused"] = (
                f"{len(to)} recipients: more than the {rules.max_recipients} allowed "
                "(TASKLOOM_NOTIFICATION_MAX_RECIPIENTS)"
            )
        return entry
    names = [str(name) for name in _listed(raw.get("channels")) if name]
    if not names:
        return None
    entry = {"channel": channel, "channels": names, **texts}
    if len(names) > rules.max_channels:
        entry["refused"] = (
            f"{len(names)} Slack channels: more than the {rules.max_channels} allowed "
            "(TASKLOOM_NOTIFICATION_MAX_CHANNELS)"
        )
        return entry
    return {**entry, **_sealed_token(raw.get("credentials"), rules.seal)}


def sealed_credentials(definition: dict[str, Any], seal: Seal) -> dict[str, Any]:
    """`definition` with the bot token of every Slack entry and the header values of every
    webhook (in `notification_settings` and in wait nodes) sealed, so a stored definition
    never holds one in clear. Sealed ones are kept as they are."""
    sealed = dict(definition)
    settings = definition.get("notification_settings")
    if isinstance(settings, dict):
        sealed["notification_settings"] = {
            outcome: _sealed_channels(by_channel, seal)
            if isinstance(by_channel, dict)
            else by_channel
            for outcome, by_channel in settings.items()
        }
    nodes = definition.get("orchestration_nodes")
    if isinstance(nodes, list):
        sealed["orchestration_nodes"] = [_seal_wait_node(node, seal) for node in nodes]
    return sealed


def _sealed_channels(by_channel: dict[str, Any], seal: Seal) -> dict[str, Any]:
    sealed = dict(by_channel)
    if by_channel.get("slack"):
        sealed["slack"] = [_seal_entry(e, seal) for e in _listed(by_channel["slack"])]
    if by_channel.get("webhook"):
        sealed["webhook"] = [
            headers.stored(e, seal) if isinstance(e, dict) else e
            for e in _listed(by_channel["webhook"])
        ]
    return sealed


def _seal_wait_node(node: Any, seal: Seal) -> Any:
    if not isinstance(node, dict) or node.get("type") != "wait":
        return node
    wait = node.get("definition")
    if not isinstance(wait, dict):
        return node
    details = wait.get("definition")
    if not isinstance(details, dict):
        return node
    if details.get("url"):
        details = headers.stored(details, seal)
    if details.get("credentials") or details.get("channels"):
        details = _seal_entry(details, seal)
    return {**node, "definition": {**wait, "definition": details}}


def _seal_entry(entry: Any, seal: Seal) -> Any:
    """A Slack entry with its bot token sealed; one without a token can never be sent."""
    if not isinstance(entry, dict):
        return entry
    if _sealed(entry.get("credentials")) is not None:
        return entry
    token = bot_token(entry.get("credentials"))
    if token is None:
        raise errors.InvalidRequest(
            "Slack `credentials` hold no bot token (`bot_token` or `token`)"
        )
    try:
        return {**entry, "credentials": {SEALED: seal(token)}}
    except errors.InvalidRequest as exc:
        raise errors.InvalidRequest(
            "a Slack bot token is kept only encrypted: start the server with "
            "TASKLOOM_SECRET_KEY set to give one"
        ) from exc


def _sealed(credentials: Any) -> str | None:
    if isinstance(credentials, dict) and isinstance(credentials.get(SEALED), str):
        return str(credentials[SEALED])
    return None


def _sealed_token(credentials: Any, seal: Seal | None) -> dict[str, str]:
    already = _sealed(credentials)
    if already is not None:
        return {"sealed": already}
    token = bot_token(credentials)
    if token is None:
        return {"refused": "no Slack bot token in `credentials` (`bot_token` or `token`)"}
    if seal is None:
        return {"refused": _NO_KEY}
    try:
        return {"sealed": seal(token)}
    except errors.InvalidRequest:
        return {"refused": _NO_KEY}


_NO_KEY = "Slack bot tokens are kept only encrypted, and this server has no TASKLOOM_SECRET_KEY"


def _listed(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]
