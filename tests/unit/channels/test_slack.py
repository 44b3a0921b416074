"""What Slack's answers mean for a delivery, and the message it is sent, without Slack."""

from __future__ import annotations

from taskloom.engine.channels.slack import bot_token, compose, outcome
from taskloom.engine.channels.text import Link, Message


def test_outcome_ok_true_delivers() -> None:
    assert outcome(200, {"ok": True, "ts": "1.2"}, None).ok


def test_outcome_ok_false_with_a_token_error_is_final() -> None:
    said = outcome(200, {"ok": False, "error": "invalid_auth"}, None)
    assert (said.ok, said.final, said.error) == (False, True, "Slack: invalid_auth")


def test_outcome_ok_false_with_an_unknown_error_is_retried() -> None:
    said = outcome(200, {"ok": False, "error": "internal_error"}, None)
    assert (said.ok, said.final) == (False, False)


def test_outcome_rate_limited_carries_retry_after() -> None:
    said = outcome(429, None, "42")
    assert (said.ok, said.final, said.retry_after_s) == (False, False, 42.0)
    assert outcome(200, {"ok": False, "error": "ratelimited"}, None).retry_after_s is None


def test_outcome_a_server_error_or_a_reply_that_is_not_json_is_retried() -> None:
    assert not outcome(502, None, None).final
    assert not outcome(200, None, None).final


def test_bot_token_is_found_under_the_names_the_sdk_uses() -> None:
    assert bot_token({"bot_token": "a"}) == bot_token({"token": "a"}) == bot_token("a") == "a"
    assert bot_token({"team": "x"}) is None


def test_compose_puts_links_as_buttons_and_cuts_long_text() -> None:
    message = Message(
        subject="Ship?",
        body="x" * 5000,
        links=(Link(text="Ship", url="https://a/approve"), Link(text="Hold", url="https://a/no")),
    )
    body = compose("#ops", message)
    section, actions = body["blocks"]
    assert len(section["text"]["text"]) == 3000
    assert [b["url"] for b in actions["elements"]] == ["https://a/approve", "https://a/no"]
    assert actions["elements"][0]["style"] == "primary"
    assert body["channel"] == "#ops"
