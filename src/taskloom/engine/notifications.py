"""Notifications: the webhooks, emails and Slack messages a workflow's
`notification_settings` (or a wait node) names, delivered at least once from a durable queue.

When a turn ends, its deliveries are queued in the transaction that ends it, so an outcome is
never told without being stored, nor stored without being told. A sweep of any process sends
what is due, each through its channel's sender (`channels/`): success delivers; a failure (an
error status, a refused or timed-out connection, an address egress does not allow, Slack's
`ok: false`) is retried with exponential back-off (longer when the receiver says Retry-After)
until `retry_window_s` after the turn ended, then the delivery is marked failed. A failure no
retry can fix (mail not set up, a refused bot token) fails it at once. Every attempt of a
delivery carries the same id (`webhook-id`, the mail's Message-ID), so a receiver can drop
repeats.

Webhooks are signed with a per-organization secret (`whsec_...`); after a rotation the
previous one keeps signing beside it for `secret_grace_s`, so receivers can switch without
missing a message.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from taskloom import errors
from taskloom.clock import Clock
from taskloom.config import DeliveryConfig
from taskloom.engine.channels import email, slack, text
from taskloom.engine.channels import headers as webhook_headers
from taskloom.engine.channels.base import Channel, Outcome, Outgoing
from taskloom.engine.channels.targets import TargetRules, details_entries, settings_entries
from taskloom.engine.channels.webhook import new_secret
from taskloom.engine.wire import iso, task_json
from taskloom.store import webhooks as webhook_store
from taskloom.store.database import Connection, Database
from taskloom.store.records import DeliveryRecord, TaskRecord, TaskStatus

logger = logging.getLogger(__name__)

NOTIFY_KEY = "_notify"  # in a task's request: who to tell, fixed at invoke (tokens sealed)
_BATCH = 50
_TARGET_CHARS = 1000  # recipients listed in the log past this are cut

Unseal = Callable[[str], str]


def notify_targets(
    definition: dict[str, Any], rules: TargetRules | None = None
) -> dict[str, list[dict[str, Any]]] | None:
    """What a task keeps of its workflow's `notification_settings`, per outcome."""
    return settings_entries(definition, rules or TargetRules())


async def queue_completion(conn: Connection, task: TaskRecord, *, now: datetime) -> None:
    """Queue the notifications of the outcome this turn ended with, in the caller's
    transaction."""
    targets = task.request.get(NOTIFY_KEY)
    if not isinstance(targets, dict):
        return
    if task.status == TaskStatus.COMPLETED:
        entries = targets.get("on_success") or []
    elif task.status in (TaskStatus.ERROR, TaskStatus.FAILED):
        entries = targets.get("on_error") or []
    else:
        return  # stopped: a person did it and knows
    event = f"task.{task.status.value}"
    data = task_json(task)
    webhook_payload = {"type": event, "timestamp": iso(now), "data": data}
    rows = [
        row
        for entry in entries
        for row in _deliveries(
            task, event, entry, webhook_payload, text.completion_message(entry, data), now
        )
    ]
    await webhook_store.enqueue(conn, rows)


async def queue_wait_started(
    conn: Connection,
    task: TaskRecord,
    details: dict[str, Any],
    request: dict[str, Any],
    *,
    now: datetime,
    rules: TargetRules | None = None,
) -> None:
    """Tell whoever a wait node names that its task waits (with the approve / deny links
    for a `hitl` wait), in the transaction that paused it."""
    event = "hitl.requested"
    rows = []
    for entry in details_entries(details, rules or TargetRules()):
        data = {
            "task_id": task.id,
            **request,
            "approve_button_text": entry.get("approve_button_text") or "Approve",
            "deny_button_text": entry.get("deny_button_text") or "Deny",
        }
        webhook_payload = {"type": event, "timestamp": iso(now), "data": data}
        message = text.wait_message(entry, request)
        rows += _deliveries(task, event, entry, webhook_payload, message, now)
    await webhook_store.enqueue(conn, rows)


def _deliveries(
    task: TaskRecord,
    event: str,
    entry: dict[str, Any],
    webhook_payload: dict[str, Any],
    message: text.Message,
    now: datetime,
) -> list[dict[str, Any]]:
    """The rows one entry makes: one per webhook, per mail, per Slack channel."""
    channel = entry.get("channel") or "webhook"  # tasks queued before channels were named
    refused = entry.get("refused")
    if channel == "email":
        to = list(entry["to"])
        return [
            _row(
                task,
                event,
                channel,
                _listing(to),
                email.compose(to, message),
                now,
                refused=refused,
            )
        ]
    if channel == "slack" and refused:  # one row says why, however many channels it named
        names = list(entry["channels"])
        return [
            _row(
                task,
                event,
                channel,
                _listing(names),
                slack.compose(names[0], message),
                now,
                refused=refused,
            )
        ]
    if channel == "slack":
        return [
            _row(
                task,
                event,
                channel,
                name,
                slack.compose(name, message),
                now,
                refused=refused,
                sealed=entry.get("sealed"),
            )
            for name in entry["channels"]
        ]
    return [
        _row(
            task,
            event,
            "webhook",
            entry["url"],
            webhook_payload,
            now,
            refused=refused,
            headers=entry.get("headers") or {},
            sealed=entry.get("sealed"),
        )
    ]


def _listing(names: list[str]) -> str:
    listed = ", ".join(names)
    return listed if len(listed) <= _TARGET_CHARS else listed[: _TARGET_CHARS - 1] + "…"


def _row(
    task: TaskRecord,
    event: str,
    channel: str,
    target: str,
    payload: dict[str, Any],
    now: datetime,
    *,
    refused: str | None,
    headers: dict[str, str] | None = None,
    sealed: str | None = None,
) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex}",
        "organization_id": task.organization_id,
        "task_id": task.id,
        "event": event,
        "channel": channel,
        "target": target,
        "headers": headers or {},
        "payload": payload,
        "sealed": None if refused else sealed,
        # refused: logged as failed at once, with the reason, never dropped in silence
        "status": webhook_store.FAILED if refused else webhook_store.PENDING,
        "attempts": 0,
        "next_attempt_at": None if refused else now,
        "last_status_code": None,
        "last_error": refused,
        "created_at": now,
        "delivered_at": None,
    }


class Notifications:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        channels: Mapping[str, Channel],
        config: DeliveryConfig,
        *,
        unseal: Unseal | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._channels = channels
        self._config = config
        self._unseal = unseal

    async def secret(self, *, organization_id: str) -> str:
        """The organization's signing secret, made on first use."""
        async with self._db.write() as conn:
            found = await webhook_store.signing_secret(conn, organization_id=organization_id)
            if found is not None:
                return found.secret
            made = new_secret()
            await webhook_store.create_signing_secret(
                conn, organization_id=organization_id, secret=made, now=self._clock.now()
            )
            return made

    async def rotate(self, *, organization_id: str) -> str:
        await self.secret(organization_id=organization_id)
        now = self._clock.now()
        made = new_secret()
        async with self._db.write() as conn:
            await webhook_store.rotate_signing_secret(
                conn,
                organization_id=organization_id,
                secret=made,
                keep_until=now + timedelta(seconds=self._config.secret_grace_s),
                now=now,
            )
        return made

    async def deliver_due(self) -> int:
        """One attempt at every delivery that is due; how many were delivered."""
        now = self._clock.now()
        async with self._db.read() as conn:
            due = await webhook_store.due(conn, now=now, limit=_BATCH, skip_locked=False)
        # each organization's signing secret exists before attempts run side by side
        for organization_id in sorted({d.organization_id for d in due if d.channel == "webhook"}):
            await self.secret(organization_id=organization_id)
        # side by side, so that one slow receiver holds up only its own attempt
        gate = asyncio.Semaphore(self._config.concurrency)

        async def attempt(delivery: DeliveryRecord) -> int:
            async with gate:
                return await self._attempt(delivery, now)

        async with asyncio.TaskGroup() as group:
            attempts = [group.create_task(attempt(d), name=f"deliver:{d.id}") for d in due]
        return sum(done.result() for done in attempts)

    async def _attempt(self, delivery: DeliveryRecord, now: datetime) -> int:
        if delivery.next_attempt_at is None:
            return 0  # due() selects scheduled ones only
        # held past this attempt's timeout: a sender that dies mid-attempt is retried after
        hold = now + timedelta(seconds=self._config.timeout_s * 2 + 1)
        async with self._db.write() as conn:
            if not await webhook_store.hold(
                conn, delivery_id=delivery.id, seen_at=delivery.next_attempt_at, until=hold
            ):
                return 0  # another process's sweep has it
            signing = (
                await self._signing_secrets(conn, delivery.organization_id, now)
                if delivery.channel == "webhook"
                else []
            )
        outcome = await self._send(delivery, signing, now)
        state, next_at = self._after(delivery, outcome, now)
        async with self._db.write() as conn:
            await webhook_store.record_attempt(
                conn,
                delivery_id=delivery.id,
                status=state,
                status_code=outcome.status_code,
                error=outcome.error,
                next_attempt_at=next_at,
                now=self._clock.now(),
            )
        if state == webhook_store.FAILED:
            logger.warning(
                "notification delivery gave up",
                extra={
                    "event": "delivery_failed",
                    "delivery_id": delivery.id,
                    "channel": delivery.channel,
                    "error": outcome.error,
                },
            )
        return int(outcome.ok)

    async def _send(self, delivery: DeliveryRecord, signing: list[str], now: datetime) -> Outcome:
        channel = self._channels.get(delivery.channel)
        if channel is None:
            return Outcome(
                ok=False, error=f"this server cannot send {delivery.channel!r}", final=True
            )
        credential, secret_headers = None, {}
        if delivery.sealed is not None:
            if self._unseal is None:
                return Outcome(
                    ok=False, error="this server cannot open sealed credentials", final=True
                )
            try:
                if delivery.channel == "webhook":
                    secret_headers = webhook_headers.opened(
                        delivery.sealed, delivery.target, self._unseal
                    )
                else:
                    credential = self._unseal(delivery.sealed)
            except (errors.InvalidRequest, errors.NodeFailed) as exc:
                return Outcome(ok=False, error=str(exc), final=True)
        outgoing = Outgoing(
            delivery=delivery,
            credential=credential,
            secret_headers=secret_headers,
            signing_secrets=signing,
            now=now,
        )
        try:
            return await channel.send(outgoing, self._config.timeout_s)
        except Exception as exc:  # any failure to send is one failed attempt
            said = f"{type(exc).__name__}: {exc}"
            for secret in (credential, *secret_headers.values()):
                if secret:
                    said = said.replace(secret, "[redacted]")
            return Outcome(ok=False, error=said[:1000])

    def _after(self, delivery: DeliveryRecord, outcome: Outcome, now: datetime) -> tuple[str, Any]:
        if outcome.ok:
            return webhook_store.DELIVERED, None
        if outcome.final:
            return webhook_store.FAILED, None
        backoff = min(
            self._config.max_backoff_s, self._config.first_backoff_s * 2**delivery.attempts
        )
        # a receiver's Retry-After is honoured even past our own longest back-off
        backoff = max(backoff, outcome.retry_after_s or 0.0)
        next_at = now + timedelta(seconds=backoff)
        window_ends = delivery.created_at + timedelta(seconds=self._config.retry_window_s)
        if next_at > window_ends:
            return webhook_store.FAILED, None
        return webhook_store.PENDING, next_at

    async def _signing_secrets(
        self, conn: Connection, organization_id: str, now: datetime
    ) -> list[str]:
        found = await webhook_store.signing_secret(conn, organization_id=organization_id)
        if found is None:
            made = new_secret()
            await webhook_store.create_signing_secret(
                conn, organization_id=organization_id, secret=made, now=now
            )
            return [made]
        signing = [found.secret]
        if found.previous_secret and found.previous_until and found.previous_until > now:
            signing.append(found.previous_secret)
        return signing
