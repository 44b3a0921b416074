"""Completion webhooks, on a manual clock that starts now (receivers check signature
timestamps against real time), on SQLite and PostgreSQL, delivered to a real receiver on
loopback that verifies them with the Standard Webhooks reference library."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from taskloom import errors
from taskloom.clock import ManualClock
from taskloom.config import DeliveryConfig, EgressConfig
from taskloom.engine.channels.webhook import WebhookChannel, http_sender
from taskloom.engine.notifications import Notifications
from taskloom.llm.tools.http_client import SharedHttpClient
from taskloom.store import webhooks as webhook_store
from taskloom.store.records import DeliveryRecord, TaskStatus
from tests.conftest import test_settings as make_settings
from tests.support.engine import Engine, approval_workflow, open_engine, summarizer_workflow
from tests.support.webhook_receiver import WebhookReceiver

CONFIG = DeliveryConfig(retry_window_s=3600.0, first_backoff_s=5.0, secret_grace_s=600.0)
LOOPBACK = EgressConfig(allowed_hosts=(), allowed_networks=("127.0.0.0/8",))
SECRET_KEY = "a server secret key for the tests"  # seals the receiver's token header


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Engine]:
    clock = ManualClock(start=datetime.now(UTC))
    settings = make_settings(database_url, secret_key=SECRET_KEY)
    async with open_engine(settings, clock=clock) as engine:
        engine.models.gate.set()
        yield engine


@pytest.fixture
async def notifications(engine: Engine) -> AsyncIterator[Notifications]:
    http = SharedHttpClient(LOOPBACK)
    try:
        yield Notifications(
            engine.db,
            engine.clock,
            {"webhook": WebhookChannel(http_sender(http))},
            CONFIG,
            unseal=engine.secrets.unseal,
        )
    finally:
        await http.aclose()


def notifying(workflow: dict[str, Any], url: str, on: str = "on_success") -> dict[str, Any]:
    hook = {"url": url, "headers": {"x-receiver-token": "t0k"}}
    return {**workflow, "notification_settings": {on: {"webhook": [hook]}}}


async def deliveries(engine: Engine, task_id: str) -> list[DeliveryRecord]:
    async with engine.db.read() as conn:
        found, _ = await webhook_store.list_deliveries(
            conn, organization_id=engine.organization_id, task_id=task_id, offset=0, limit=50
        )
    return found


async def finish(engine: Engine, workflow: dict[str, Any]) -> str:
    task = (await engine.invoke(await engine.deploy(workflow))).task
    assert await engine.worker.claim_once(10) == 1
    await engine.settled(task.id)
    return task.id


async def test_a_completed_task_is_told_signed_with_the_organizations_secret(
    engine: Engine, notifications: Notifications, receiver: WebhookReceiver
) -> None:
    receiver.secret = await notifications.secret(organization_id=engine.organization_id)
    task_id = await finish(engine, notifying(summarizer_workflow(), receiver.url))

    queued = await deliveries(engine, task_id)
    assert [(d.status, d.event) for d in queued] == [("pending", "task.completed")]
    assert await notifications.deliver_due() == 1

    (got,) = receiver.received
    assert got.verified is not None
    assert got.verified["type"] == "task.completed"
    assert got.verified["data"]["id"] == task_id
    assert got.verified["data"]["status"] == "completed"
    assert got.headers["x-receiver-token"] == "t0k"
    assert got.webhook_id == queued[0].id
    (done,) = await deliveries(engine, task_id)
    assert (done.status, done.attempts, done.last_status_code) == ("delivered", 1, 200)


async def test_the_receivers_token_is_stored_only_sealed_and_sent_in_clear(
    engine: Engine, notifications: Notifications, receiver: WebhookReceiver
) -> None:
    task_id = await finish(engine, notifying(summarizer_workflow(), receiver.url))

    task = await engine.tasks.get(organization_id=engine.organization_id, task_id=task_id)
    (queued,) = await deliveries(engine, task_id)
    assert "t0k" not in json.dumps(task.request, default=str)
    assert "t0k" not in json.dumps([queued.headers, queued.sealed])
    assert await notifications.deliver_due() == 1
    assert receiver.received[0].headers["x-receiver-token"] == "t0k"


async def test_without_the_key_to_open_it_a_sealed_header_fails_its_delivery_at_once(
    engine: Engine, receiver: WebhookReceiver
) -> None:
    task_id = await finish(engine, notifying(summarizer_workflow(), receiver.url))
    http = SharedHttpClient(LOOPBACK)
    try:
        keyless = Notifications(
            engine.db, engine.clock, {"webhook": WebhookChannel(http_sender(http))}, CONFIG
        )
        assert await keyless.deliver_due() == 0
    finally:
        await http.aclose()
    (failed,) = await deliveries(engine, task_id)
    assert (failed.status, failed.last_error) == (
        "failed",
        "this server cannot open sealed credentials",
    )
    assert receiver.received == []


async def test_a_failed_attempt_is_retried_after_its_backoff_under_the_same_id(
    engine: Engine, notifications: Notifications, receiver: WebhookReceiver
) -> None:
    receiver.statuses.extend([500])
    task_id = await finish(engine, notifying(summarizer_workflow(), receiver.url))

    assert await notifications.deliver_due() == 0
    (retrying,) = await deliveries(engine, task_id)
    assert (retrying.status, retrying.attempts, retrying.last_status_code) == ("pending", 1, 500)
    await engine.clock.advance(4)
    assert await notifications.deliver_due() == 0  # not due yet: nothing sent
    assert len(receiver.received) == 1
    await engine.clock.advance(1)
    assert await notifications.deliver_due() == 1

    assert [r.webhook_id for r in receiver.received] == [retrying.id, retrying.id]
    (done,) = await deliveries(engine, task_id)
    assert (done.status, done.attempts) == ("delivered", 2)


async def test_an_error_outcome_tells_the_on_error_webhooks_only(
    engine: Engine, notifications: Notifications, receiver: WebhookReceiver
) -> None:
    told_on_error = notifying(approval_workflow(), receiver.url, on="on_error")
    task = (await engine.invoke(await engine.deploy(told_on_error))).task
    assert await engine.worker.claim_once(10) == 1
    await engine.settled(task.id)
    await engine.waits.decide(
        organization_id=engine.organization_id,
        task_id=task.id,
        approved=False,
        decided_by="ana",
        comment=None,
    )
    assert await engine.worker.claim_once(10) == 1
    assert (await engine.settled(task.id)).status == TaskStatus.ERROR

    assert await notifications.deliver_due() == 1
    payload = json.loads(receiver.received[0].body)
    assert payload["type"] == "task.error"
    assert payload["data"]["status_reason"] == "rejected"
    assert await finish(engine, notifying(summarizer_workflow(), receiver.url, on="on_error"))
    assert await notifications.deliver_due() == 0  # completed: no on_success hooks


async def test_after_a_rotation_both_secrets_sign_until_the_grace_ends(
    engine: Engine, notifications: Notifications, receiver: WebhookReceiver
) -> None:
    old = await notifications.secret(organization_id=engine.organization_id)
    new = await notifications.rotate(organization_id=engine.organization_id)
    assert new != old
    for secret in (old, new):
        receiver.secret = secret
        await finish(engine, notifying(summarizer_workflow(), receiver.url))
        assert await notifications.deliver_due() == 1
        assert receiver.received[-1].verified is not None

    await engine.clock.advance(CONFIG.secret_grace_s + 1)
    receiver.secret = old
    await finish(engine, notifying(summarizer_workflow(), receiver.url))
    await notifications.deliver_due()
    assert receiver.received[-1].verified is None  # the old secret signs no more
    signatures = receiver.received[-1].headers["webhook-signature"].split()
    assert len(signatures) == 1


async def test_a_receiver_that_never_accepts_is_given_up_after_the_window(
    engine: Engine, notifications: Notifications, receiver: WebhookReceiver
) -> None:
    receiver.statuses.extend([503] * 100)
    task_id = await finish(engine, notifying(summarizer_workflow(), receiver.url))

    for _ in range(20):
        await notifications.deliver_due()
        await engine.clock.advance(CONFIG.max_backoff_s)

    (given_up,) = await deliveries(engine, task_id)
    assert given_up.status == "failed"
    assert given_up.last_status_code == 503
    sent = len(receiver.received)
    await notifications.deliver_due()
    assert len(receiver.received) == sent


async def test_an_address_egress_does_not_allow_is_never_reached(
    engine: Engine, receiver: WebhookReceiver
) -> None:
    http = SharedHttpClient(EgressConfig(allowed_hosts=(), allowed_networks=()))
    strict = Notifications(
        engine.db,
        engine.clock,
        {"webhook": WebhookChannel(http_sender(http))},
        CONFIG,
        unseal=engine.secrets.unseal,
    )
    try:
        task_id = await finish(engine, notifying(summarizer_workflow(), receiver.url))
        assert await strict.deliver_due() == 0
    finally:
        await http.aclose()

    assert receiver.received == []
    (refused,) = await deliveries(engine, task_id)
    assert refused.status == "pending"
    assert "EgressRefused" in (refused.last_error or "")


def told_when_waiting(url: str, timeout_s: float | None = None) -> dict[str, Any]:
    workflow = approval_workflow()
    wait = workflow["orchestration_nodes"][0]["definition"]
    wait["definition"] |= {"url": url, "approve_button_text": "Ship"}
    if timeout_s is not None:
        wait |= {"timeout_seconds": timeout_s}
    return workflow


async def test_a_wait_tells_its_webhook_with_links_that_decide_once(
    engine: Engine, notifications: Notifications, receiver: WebhookReceiver
) -> None:
    task = (await engine.invoke(await engine.deploy(told_when_waiting(receiver.url)))).task
    assert await engine.worker.claim_once(10) == 1
    assert (await engine.settled(task.id)).status == TaskStatus.PAUSED

    assert await notifications.deliver_due() == 1
    told = json.loads(receiver.received[0].body)
    assert told["type"] == "hitl.requested"
    assert told["data"]["wait_node_id"] == "ask"
    assert told["data"]["approve_button_text"] == "Ship"
    token = told["data"]["approve_url"].split("/links/")[1].split("/")[0]
    assert told["data"]["deny_url"].endswith(f"/links/{token}/reject")

    resumed = await engine.waits.decide_by_link(token=token, approved=True)
    assert resumed.status == TaskStatus.PENDING
    with pytest.raises(errors.Conflict, match="decided already"):
        await engine.waits.decide_by_link(token=token, approved=False)
    with pytest.raises(errors.NotFound):
        await engine.waits.decide_by_link(token="x" * 43, approved=True)
    assert await engine.worker.claim_once(10) == 1
    done = await engine.settled(task.id)
    assert done.status == TaskStatus.COMPLETED


async def test_a_link_expires_with_its_wait(
    engine: Engine, notifications: Notifications, receiver: WebhookReceiver
) -> None:
    workflow = told_when_waiting(receiver.url, timeout_s=600)
    task = (await engine.invoke(await engine.deploy(workflow))).task
    assert await engine.worker.claim_once(10) == 1
    await engine.settled(task.id)
    await notifications.deliver_due()
    told = json.loads(receiver.received[0].body)
    token = told["data"]["approve_url"].split("/links/")[1].split("/")[0]

    await engine.clock.advance(601)
    with pytest.raises(errors.Conflict, match="expired"):
        await engine.waits.decide_by_link(token=token, approved=True)
    assert (await engine.task(task.id)).status == TaskStatus.PAUSED
