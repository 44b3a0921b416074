"""Email and Slack notifications, on a manual clock, on SQLite and PostgreSQL: mail goes to a
real SMTP server on loopback (aiosmtpd), Slack messages to a Slack-Web-API-shaped server,
through the same durable delivery queue as webhooks."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import ssl
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from taskloom.clock import ManualClock
from taskloom.config import DeliveryConfig, EgressConfig, SmtpConfig
from taskloom.engine.channels.email import EmailChannel
from taskloom.engine.channels.slack import SlackChannel
from taskloom.engine.channels.webhook import WebhookChannel, http_sender
from taskloom.engine.notifications import Notifications
from taskloom.llm.tools.http_client import SharedHttpClient
from taskloom.store import webhooks as webhook_store
from taskloom.store.records import DeliveryRecord, TaskStatus
from taskloom.store.tables import tasks, webhook_deliveries
from tests.conftest import test_settings as make_settings
from tests.support.engine import Engine, approval_workflow, open_engine, summarizer_workflow
from tests.support.slack_api import Reply, SlackApi
from tests.support.smtp_server import SmtpServer
from tests.support.waiting import eventually

CONFIG = DeliveryConfig(retry_window_s=3600.0, first_backoff_s=5.0)
LOOPBACK = EgressConfig(allowed_hosts=(), allowed_networks=("127.0.0.0/8",))
TOKEN = "xoxb-test-token"
SECRET_KEY = "a server secret key for the tests"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(login=("relay-user", "relay-pass")) as started:
        yield started


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    with SlackApi(token=TOKEN) as started:
        yield started


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Engine]:
    clock = ManualClock(start=datetime.now(UTC))
    settings = make_settings(database_url, secret_key=SECRET_KEY)
    async with open_engine(settings, clock=clock) as engine:
        engine.models.gate.set()
        yield engine


def smtp_config(server: SmtpServer) -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1",
        port=server.port,
        tls="none",
        sender="taskloom@example.org",
        username="relay-user",
        password=SecretStr("relay-pass"),
    )


@pytest.fixture
async def notifications(
    engine: Engine, smtp: SmtpServer, slack: SlackApi
) -> AsyncIterator[Notifications]:
    http = SharedHttpClient(LOOPBACK)
    assert engine.secrets is not None
    channels = {
        "webhook": WebhookChannel(http_sender(http)),
        "email": EmailChannel(smtp_config(smtp)),
        "slack": SlackChannel(http, slack.url),
    }
    try:
        yield Notifications(engine.db, engine.clock, channels, CONFIG, unseal=engine.secrets.unseal)
    finally:
        await http.aclose()


def told(workflow: dict[str, Any], on: str = "on_success", **by_channel: Any) -> dict[str, Any]:
    return {**workflow, "notification_settings": {on: by_channel}}


EMAIL = {"to": ["ops@example.org", "lead@example.org"], "subject": "Chain finished"}
SLACK = {"channels": ["#ops", "#alerts"], "credentials": {"bot_token": TOKEN}}


async def deliveries(engine: Engine, task_id: str) -> list[DeliveryRecord]:
    async with engine.db.read() as conn:
        found, _ = await webhook_store.list_deliveries(
            conn, organization_id=engine.organization_id, task_id=task_id, offset=0, limit=50
        )
    return sorted(found, key=lambda d: (d.channel, d.target))


async def finish(engine: Engine, workflow: dict[str, Any]) -> str:
    task = (await engine.invoke(await engine.deploy(workflow))).task
    assert await engine.worker.claim_once(10) == 1
    await engine.settled(task.id)
    return task.id


async def pause(engine: Engine, workflow: dict[str, Any]) -> str:
    task = (await engine.invoke(await engine.deploy(workflow))).task
    assert await engine.worker.claim_once(10) == 1
    assert (await engine.settled(task.id)).status == TaskStatus.PAUSED
    return task.id


# -- email -----------------------------------------------------------------------------------


async def test_a_completed_task_is_mailed_to_its_recipients_through_the_smtp_server(
    engine: Engine, notifications: Notifications, smtp: SmtpServer
) -> None:
    engine.models.answer = "the chain's answer"
    task_id = await finish(engine, told(summarizer_workflow(), email=[EMAIL]))

    (queued,) = await deliveries(engine, task_id)
    assert (queued.channel, queued.target, queued.status) == (
        "email",
        "ops@example.org, lead@example.org",
        "pending",
    )
    assert await notifications.deliver_due() == 1

    (mail,) = smtp.received
    assert smtp.logins == ["relay-user"]
    assert mail.mail_from == "taskloom@example.org"
    assert mail.rcpt_tos == ["ops@example.org", "lead@example.org"]
    assert mail.message["Subject"] == "Chain finished"
    assert mail.message["Message-ID"] == f"<{queued.id}@taskloom>"
    assert f"Task {task_id} ended completed." in mail.text
    assert "the chain's answer" in mail.text
    (done,) = await deliveries(engine, task_id)
    assert (done.status, done.attempts, done.last_status_code) == ("delivered", 1, 250)


async def test_an_error_outcome_is_mailed_to_the_on_error_recipients_with_the_reason(
    engine: Engine, notifications: Notifications, smtp: SmtpServer
) -> None:
    on_error = {"to": ["oncall@example.org"], "body": "It broke."}
    task_id = await pause(engine, told(approval_workflow(), "on_error", email=[on_error]))
    await engine.waits.decide(
        organization_id=engine.organization_id,
        task_id=task_id,
        approved=False,
        decided_by="ana",
        comment=None,
    )
    assert await engine.worker.claim_once(10) == 1
    assert (await engine.settled(task_id)).status == TaskStatus.ERROR

    assert await notifications.deliver_due() == 1
    (mail,) = smtp.received
    assert mail.rcpt_tos == ["oncall@example.org"]
    assert mail.message["Subject"] == f"Task {task_id} error"
    assert mail.text.strip() == "It broke."


async def test_a_mail_the_server_defers_is_sent_again_under_the_same_message_id(
    engine: Engine, notifications: Notifications, smtp: SmtpServer
) -> None:
    smtp.replies.append("451 4.3.0 try again later")
    task_id = await finish(engine, told(summarizer_workflow(), email=[EMAIL]))

    assert await notifications.deliver_due() == 0
    (deferred,) = await deliveries(engine, task_id)
    assert (deferred.status, deferred.last_status_code) == ("pending", 451)
    assert "451" in (deferred.last_error or "")
    await engine.clock.advance(CONFIG.first_backoff_s)
    assert await notifications.deliver_due() == 1

    (mail,) = smtp.received
    assert mail.message["Message-ID"] == f"<{deferred.id}@taskloom>"
    (done,) = await deliveries(engine, task_id)
    assert (done.status, done.attempts) == ("delivered", 2)


async def test_a_mail_the_server_refuses_for_good_fails_without_retries(
    engine: Engine, notifications: Notifications, smtp: SmtpServer
) -> None:
    smtp.replies.append("554 5.7.1 rejected by policy")
    task_id = await finish(engine, told(summarizer_workflow(), email=[EMAIL]))

    assert await notifications.deliver_due() == 0
    (failed,) = await deliveries(engine, task_id)
    assert (failed.status, failed.last_status_code, failed.next_attempt_at) == ("failed", 554, None)


async def test_without_an_smtp_server_a_mail_is_logged_failed_with_the_reason(
    engine: Engine, smtp: SmtpServer
) -> None:
    unconfigured = Notifications(engine.db, engine.clock, {"email": EmailChannel(None)}, CONFIG)
    task_id = await finish(engine, told(summarizer_workflow(), email=[EMAIL]))

    assert await unconfigured.deliver_due() == 0
    (failed,) = await deliveries(engine, task_id)
    assert failed.status == "failed"
    assert "no SMTP server is configured" in (failed.last_error or "")
    assert smtp.received == []


async def test_more_recipients_than_allowed_are_logged_failed_and_not_mailed(
    database_url: str, smtp: SmtpServer
) -> None:
    settings = make_settings(database_url, notification_max_recipients=1)
    async with open_engine(settings, clock=ManualClock(start=datetime.now(UTC))) as engine:
        engine.models.gate.set()
        task_id = await finish(engine, told(summarizer_workflow(), email=[EMAIL]))
        (refused,) = await deliveries(engine, task_id)
    assert refused.status == "failed"
    assert "TASKLOOM_NOTIFICATION_MAX_RECIPIENTS" in (refused.last_error or "")


# -- Slack -----------------------------------------------------------------------------------


async def test_a_completed_task_is_posted_to_each_slack_channel_with_the_bot_token(
    engine: Engine, notifications: Notifications, slack: SlackApi
) -> None:
    task_id = await finish(engine, told(summarizer_workflow(), slack=[SLACK]))

    queued = await deliveries(engine, task_id)
    assert [(d.channel, d.target) for d in queued] == [("slack", "#alerts"), ("slack", "#ops")]
    assert await notifications.deliver_due() == 2

    assert {post.authorization for post in slack.posts} == {f"Bearer {TOKEN}"}
    assert all(post.content_type.startswith("application/json") for post in slack.posts)
    assert sorted(post.body["channel"] for post in slack.posts) == ["#alerts", "#ops"]
    body = slack.posts[0].body
    assert body["text"] == f"Task {task_id} completed"
    assert f"Task {task_id} ended completed." in body["blocks"][0]["text"]["text"]
    assert [d.status for d in await deliveries(engine, task_id)] == ["delivered", "delivered"]


async def test_the_bot_token_is_kept_only_sealed_in_the_task_and_the_delivery(
    engine: Engine, notifications: Notifications
) -> None:
    task_id = await finish(engine, told(summarizer_workflow(), slack=[SLACK]))

    async with engine.db.read() as conn:
        request = (
            await conn.execute(sa.select(tasks.c.request).where(tasks.c.id == task_id))
        ).scalar_one()
        rows = (
            await conn.execute(
                sa.select(webhook_deliveries).where(webhook_deliveries.c.task_id == task_id)
            )
        ).mappings()
        stored = json.dumps(request) + json.dumps([dict(row) for row in rows], default=str)
    assert TOKEN not in stored
    assert all(d.sealed for d in await deliveries(engine, task_id))


async def test_a_rate_limited_post_waits_as_long_as_retry_after_says(
    engine: Engine, notifications: Notifications, slack: SlackApi
) -> None:
    slack.replies.append(
        Reply(status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "30"})
    )
    one_channel = {**SLACK, "channels": ["#ops"]}
    task_id = await finish(engine, told(summarizer_workflow(), slack=[one_channel]))

    assert await notifications.deliver_due() == 0
    (limited,) = await deliveries(engine, task_id)
    assert (limited.status, limited.last_status_code) == ("pending", 429)
    await engine.clock.advance(29)  # past our own first back-off, short of Slack's
    assert await notifications.deliver_due() == 0
    assert len(slack.posts) == 1
    await engine.clock.advance(1)
    assert await notifications.deliver_due() == 1
    assert len(slack.posts) == 2


async def test_a_post_slack_answers_500_or_not_ok_is_retried(
    engine: Engine, notifications: Notifications, slack: SlackApi
) -> None:
    slack.replies.extend(
        [
            Reply(status=500, body={"ok": False}),
            Reply(body={"ok": False, "error": "internal_error"}),
        ]
    )
    one_channel = {**SLACK, "channels": ["#ops"]}
    task_id = await finish(engine, told(summarizer_workflow(), slack=[one_channel]))

    assert await notifications.deliver_due() == 0
    await engine.clock.advance(CONFIG.first_backoff_s)
    assert await notifications.deliver_due() == 0
    (retrying,) = await deliveries(engine, task_id)
    assert (retrying.attempts, retrying.last_error) == (2, "Slack: internal_error")
    await engine.clock.advance(CONFIG.first_backoff_s * 2)
    assert await notifications.deliver_due() == 1
    (done,) = await deliveries(engine, task_id)
    assert (done.status, done.attempts) == ("delivered", 3)


async def test_a_token_slack_refuses_fails_the_delivery_at_once(
    engine: Engine, notifications: Notifications, slack: SlackApi
) -> None:
    wrong = {"channels": ["#ops"], "credentials": {"token": "xoxb-revoked"}}
    task_id = await finish(engine, told(summarizer_workflow(), slack=[wrong]))

    assert await notifications.deliver_due() == 0
    (failed,) = await deliveries(engine, task_id)
    assert (failed.status, failed.last_error) == ("failed", "Slack: invalid_auth")
    assert slack.posts[0].authorization == "Bearer xoxb-revoked"


async def test_without_a_secret_key_a_slack_entry_is_logged_failed_and_never_stored(
    database_url: str, slack: SlackApi
) -> None:
    settings = make_settings(database_url)  # no TASKLOOM_SECRET_KEY
    async with open_engine(settings, clock=ManualClock(start=datetime.now(UTC))) as engine:
        engine.models.gate.set()
        task_id = await finish(engine, told(summarizer_workflow(), slack=[SLACK]))
        refused = await deliveries(engine, task_id)
        task = await engine.task(task_id)
    assert [(d.status, d.target) for d in refused] == [("failed", "#ops, #alerts")]
    assert "TASKLOOM_SECRET_KEY" in (refused[0].last_error or "")
    assert TOKEN not in json.dumps(task.request)
    assert slack.posts == []


# -- waits -----------------------------------------------------------------------------------


def waiting_on(**details: Any) -> dict[str, Any]:
    workflow = approval_workflow()
    wait = workflow["orchestration_nodes"][0]["definition"]
    wait["definition"] |= {"approve_button_text": "Ship", "deny_button_text": "Hold", **details}
    return workflow


async def test_a_wait_mails_its_recipients_the_approve_and_deny_links(
    engine: Engine, notifications: Notifications, smtp: SmtpServer
) -> None:
    task_id = await pause(engine, waiting_on(to=["approver@example.org"]))

    assert await notifications.deliver_due() == 1
    (mail,) = smtp.received
    assert mail.rcpt_tos == ["approver@example.org"]
    assert mail.message["Subject"] == "Ship it?"
    base = engine.settings.public_url
    assert f"Ship: {base}/v1/hitl/links/" in mail.text
    assert f"Hold: {base}/v1/hitl/links/" in mail.text
    assert ">Ship</a>" in mail.html
    token = mail.text.split("/v1/hitl/links/")[1].split("/")[0]

    resumed = await engine.waits.decide_by_link(token=token, approved=True)
    assert resumed.status == TaskStatus.PENDING
    assert await engine.worker.claim_once(10) == 1
    assert (await engine.settled(task_id)).status == TaskStatus.COMPLETED


async def test_a_wait_posts_approve_and_deny_buttons_to_slack(
    engine: Engine, notifications: Notifications, slack: SlackApi
) -> None:
    await pause(engine, waiting_on(channels=["#approvals"], credentials={"token": TOKEN}))

    assert await notifications.deliver_due() == 1
    (post,) = slack.posts
    assert post.authorization == f"Bearer {TOKEN}"
    assert post.body["channel"] == "#approvals"
    assert post.body["text"] == "Ship it?"
    (actions,) = [block for block in post.body["blocks"] if block["type"] == "actions"]
    buttons = {b["text"]["text"]: b["url"] for b in actions["elements"]}
    assert set(buttons) == {"Ship", "Hold"}
    assert buttons["Ship"].endswith("/approve")
    assert buttons["Hold"].endswith("/reject")


async def test_one_wait_may_tell_every_channel_at_once(
    engine: Engine, notifications: Notifications, smtp: SmtpServer, slack: SlackApi
) -> None:
    task_id = await pause(
        engine,
        waiting_on(
            to=["approver@example.org"], channels=["#approvals"], credentials={"token": TOKEN}
        ),
    )

    assert [d.channel for d in await deliveries(engine, task_id)] == ["email", "slack"]
    assert await notifications.deliver_due() == 2
    assert len(smtp.received) == len(slack.posts) == 1


# -- TLS -------------------------------------------------------------------------------------


def self_signed(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    """A certificate for 127.0.0.1 (its own CA), and a server context that presents it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return cert_file, context


async def test_starttls_is_used_before_the_login_and_the_certificate_is_checked(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_file, context = self_signed(tmp_path)
    with SmtpServer(login=("relay-user", "relay-pass"), tls=context) as secured:
        config = dataclasses.replace(smtp_config(secured), tls="starttls")
        sender = Notifications(engine.db, engine.clock, {"email": EmailChannel(config)}, CONFIG)
        task_id = await finish(engine, told(summarizer_workflow(), email=[EMAIL]))

        assert await sender.deliver_due() == 0  # the certificate is not trusted yet
        (untrusted,) = await deliveries(engine, task_id)
        assert "CERTIFICATE_VERIFY_FAILED" in (untrusted.last_error or "")
        assert secured.logins == []

        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # the operator's trust store
        await engine.clock.advance(CONFIG.first_backoff_s)
        assert await sender.deliver_due() == 1
    assert secured.logins == ["relay-user"]
    assert len(secured.received) == 1


async def test_a_slow_receiver_holds_up_only_its_own_delivery(
    engine: Engine, notifications: Notifications, slack: SlackApi
) -> None:
    slack.held.add("#slow")
    entry = {**SLACK, "channels": ["#slow", "#fast"]}
    await finish(engine, told(summarizer_workflow(), slack=[entry]))

    sweep = asyncio.create_task(notifications.deliver_due())

    async def fast_posted() -> bool:
        return any(post.body["channel"] == "#fast" for post in slack.posts)

    await eventually(fast_posted)
    assert not sweep.done()  # #slow is still waiting for its answer
    slack.release.set()
    assert await sweep == 2


async def test_a_refused_smtp_login_is_retried_not_given_up(
    engine: Engine, smtp: SmtpServer
) -> None:
    wrong = dataclasses.replace(smtp_config(smtp), password=SecretStr("not the password"))
    sender = Notifications(engine.db, engine.clock, {"email": EmailChannel(wrong)}, CONFIG)
    task_id = await finish(engine, told(summarizer_workflow(), email=[EMAIL]))

    assert await sender.deliver_due() == 0
    (waiting,) = await deliveries(engine, task_id)
    assert (waiting.status, waiting.last_status_code) == ("pending", 535), waiting.last_error
    assert smtp.received == []
