"""Reading `notification_settings` and wait details into the entries a task keeps, and the
sealing of Slack bot tokens in a stored definition."""

from __future__ import annotations

import json

import pytest

from taskloom import errors
from taskloom.agents.credentials import bind
from taskloom.engine.channels.targets import (
    TargetRules,
    details_entries,
    sealed_credentials,
    settings_entries,
)


def seal(token: str) -> str:
    return "sealed:" + token[::-1]


def no_key(token: str) -> str:
    raise errors.InvalidRequest("no key")


RULES = TargetRules(seal=seal, max_recipients=2, max_channels=2)
SEALED_A = json.dumps({"a": seal(bind("b", "https://hook"))})


def test_settings_entries_keep_each_channel_per_outcome() -> None:
    definition = {
        "notification_settings": {
            "on_success": {
                "webhook": [{"url": "https://hook", "headers": {"a": "b"}}],
                "email": [{"to": "one@example.org", "subject": "s"}],
            },
            "on_error": {"slack": [{"channels": ["#x"], "credentials": {"token": "xoxb"}}]},
        }
    }
    kept = settings_entries(definition, RULES)
    assert kept == {
        "on_success": [
            {"channel": "webhook", "url": "https://hook", "headers": {}, "sealed": SEALED_A},
            {"channel": "email", "to": ["one@example.org"], "subject": "s"},
        ],
        "on_error": [{"channel": "slack", "channels": ["#x"], "sealed": "sealed:bxox"}],
    }


def test_entries_over_a_limit_or_without_a_token_are_kept_refused() -> None:
    definition = {
        "notification_settings": {
            "on_success": {
                "email": [{"to": ["a@x", "b@x", "c@x"]}],
                "slack": [{"channels": ["#x"]}, {"channels": ["#a", "#b", "#c"]}],
            }
        }
    }
    kept = settings_entries(definition, RULES)
    assert kept is not None
    reasons = [entry["refused"] for entry in kept["on_success"]]
    assert "TASKLOOM_NOTIFICATION_MAX_RECIPIENTS" in reasons[0]
    assert "no Slack bot token" in reasons[1]
    assert "TASKLOOM_NOTIFICATION_MAX_CHANNELS" in reasons[2]


def test_a_slack_entry_without_a_secret_key_is_refused_and_keeps_no_token() -> None:
    entries = details_entries(
        {"channels": ["#x"], "credentials": {"token": "xoxb"}}, TargetRules(seal=no_key)
    )
    assert "TASKLOOM_SECRET_KEY" in entries[0]["refused"]
    assert "xoxb" not in str(entries)


def test_details_entries_name_every_channel_one_wait_names() -> None:
    details = {"url": "https://hook", "to": ["a@x"], "channels": ["#x"], "credentials": "xoxb"}
    assert [e["channel"] for e in details_entries(details, RULES)] == [
        "webhook",
        "email",
        "slack",
    ]


def test_sealed_credentials_seals_settings_and_wait_nodes_once() -> None:
    definition = {
        "notification_settings": {
            "on_success": {"slack": [{"channels": ["#x"], "credentials": {"bot_token": "t1"}}]}
        },
        "orchestration_nodes": [
            {"type": "wait", "definition": {"definition": {"credentials": {"token": "t2"}}}},
            {"type": "code", "definition": {"credentials": {"anything": "kept"}}},
        ],
    }
    sealed = sealed_credentials(definition, seal)
    slack = sealed["notification_settings"]["on_success"]["slack"][0]
    assert slack["credentials"] == {"sealed": "sealed:1t"}
    wait, code = sealed["orchestration_nodes"]
    assert wait["definition"]["definition"]["credentials"] == {"sealed": "sealed:2t"}
    assert code == definition["orchestration_nodes"][1]
    assert sealed_credentials(sealed, seal) == sealed


def test_sealed_credentials_without_a_key_refuses_the_definition() -> None:
    definition = {
        "notification_settings": {
            "on_success": {"slack": [{"channels": ["#x"], "credentials": {"token": "t"}}]}
        }
    }
    with pytest.raises(errors.InvalidRequest, match="TASKLOOM_SECRET_KEY"):
        sealed_credentials(definition, no_key)
