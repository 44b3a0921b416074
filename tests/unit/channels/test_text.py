"""The words of email and Slack notifications."""

from __future__ import annotations

from taskloom.engine.channels.email import compose, mail
from taskloom.engine.channels.text import completion_message, wait_message


def test_a_completion_says_how_the_task_ended_and_quotes_its_result() -> None:
    message = completion_message({}, {"id": "t1", "status": "completed", "result": "42"})
    assert message.subject == "Task t1 completed"
    assert message.body == "Task t1 ended completed.\n\n42"


def test_an_error_gives_its_reason_and_an_entry_may_set_subject_and_body() -> None:
    task = {"id": "t1", "status": "error", "status_reason": "rejected"}
    assert "Reason: rejected" in completion_message({}, task).body
    own = completion_message({"subject": "S", "body": "B"}, task)
    assert (own.subject, own.body) == ("S", "B")


def test_a_wait_message_carries_links_with_the_button_texts() -> None:
    request = {
        "title": "Refund?",
        "description": "Check it",
        "content": "40 EUR",
        "approve_url": "https://t/approve",
        "deny_url": "https://t/reject",
    }
    message = wait_message({"approve_button_text": "Yes"}, request)
    assert message.subject == "Refund?"
    assert message.body == "Check it\n\n40 EUR"
    assert [(link.text, link.url) for link in message.links] == [
        ("Yes", "https://t/approve"),
        ("Deny", "https://t/reject"),
    ]


def test_a_webhook_wait_has_no_links() -> None:
    assert wait_message({}, {"title": "Callback"}).links == ()


def test_a_mail_escapes_html_and_lists_links_in_its_text() -> None:
    message = wait_message(
        {}, {"title": "<b>", "description": "a < b", "approve_url": "u1", "deny_url": "u2"}
    )
    built = mail(compose(["x@y"], message), sender="t@y", message_id="msg_1")
    text = built.get_body(preferencelist=("plain",))
    html = built.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert "Approve: u1\nDeny: u2" in text.get_content()
    assert "a &lt; b" in html.get_content()
    assert built["Message-ID"] == "<msg_1@taskloom>"
