"""A webhook's own headers: sealed and bound to the URL's origin in a stored definition,
carried sealed by a task, opened only for the POST, and refused without a secret key."""

from __future__ import annotations

import pytest

from taskloom import errors
from taskloom.agents.credentials import REDACTED
from taskloom.engine.channels import headers
from taskloom.engine.channels.targets import TargetRules, sealed_credentials, settings_entries


def seal(value: str) -> str:
    return "sealed:" + value[::-1]


def unseal(value: str) -> str:
    return value.removeprefix("sealed:")[::-1]


def no_key(value: str) -> str:
    raise errors.InvalidRequest("no key")


def notifying(*hooks: dict[str, object]) -> dict[str, object]:
    return {"notification_settings": {"on_error": {"webhook": list(hooks)}}}


HOOK = {"url": "https://hooks.example.org/in", "headers": {"Authorization": "Bearer s3cret"}}


def test_a_stored_definition_shows_header_names_and_keeps_values_sealed() -> None:
    stored = sealed_credentials(notifying(HOOK, {"url": "https://b", "headers": {"X": ""}}), seal)
    first, second = stored["notification_settings"]["on_error"]["webhook"]  # type: ignore[index]
    assert first["headers"] == {"Authorization": REDACTED}
    assert "s3cret" not in str(stored)
    assert second == {"url": "https://b", "headers": {"X": ""}}  # nothing to hide
    task = settings_entries(stored, TargetRules(seal=seal))
    assert task is not None
    (entry, _) = task["on_error"]
    assert headers.opened(entry["sealed"], HOOK["url"], unseal) == {
        "Authorization": "Bearer s3cret"
    }


def test_a_definition_sent_back_with_redacted_keeps_the_stored_value_and_takes_new_ones() -> None:
    stored = sealed_credentials(notifying(HOOK), seal)
    (hook,) = stored["notification_settings"]["on_error"]["webhook"]  # type: ignore[index]
    again = sealed_credentials(notifying(hook), seal)
    assert again == stored
    edited = {**hook, "headers": {"Authorization": REDACTED, "X-Team": "blue"}}
    (kept,) = sealed_credentials(notifying(edited), seal)["notification_settings"]["on_error"][
        "webhook"
    ]  # type: ignore[index]
    assert kept["headers"] == {"Authorization": REDACTED, "X-Team": REDACTED}
    task = settings_entries(notifying(kept), TargetRules(seal=seal))
    assert task is not None
    assert headers.opened(task["on_error"][0]["sealed"], HOOK["url"], unseal) == {
        "Authorization": "Bearer s3cret",
        "X-Team": "blue",
    }
    dropped = {**hook, "headers": {}}
    (gone,) = sealed_credentials(notifying(dropped), seal)["notification_settings"]["on_error"][
        "webhook"
    ]  # type: ignore[index]
    assert gone == {"url": HOOK["url"], "headers": {}}


def test_a_sealed_header_is_refused_for_another_origin() -> None:
    stored = sealed_credentials(notifying(HOOK), seal)
    (hook,) = stored["notification_settings"]["on_error"]["webhook"]  # type: ignore[index]
    moved = {**hook, "url": "https://attacker.example.net/in"}
    task = settings_entries(notifying(moved), TargetRules(seal=seal))
    assert task is not None
    with pytest.raises(errors.NodeFailed, match=r"given for https://hooks\.example\.org:443"):
        headers.opened(task["on_error"][0]["sealed"], moved["url"], unseal)


def test_without_a_secret_key_headers_are_a_422_at_save_and_refused_at_run() -> None:
    with pytest.raises(errors.InvalidRequest, match="TASKLOOM_SECRET_KEY"):
        sealed_credentials(notifying(HOOK), no_key)
    for rules in (TargetRules(seal=no_key), TargetRules()):
        task = settings_entries(notifying(HOOK), rules)
        assert task is not None
        (entry,) = task["on_error"]
        assert "TASKLOOM_SECRET_KEY" in entry["refused"]
        assert "s3cret" not in str(entry)
