"""Completion notifications: webhooks a workflow's `notification_settings` names, signed as
Standard Webhooks and delivered at least once from a durable queue.

When a turn ends, its deliveries are queued in the transaction that ends it, so an outcome is
never told without being stored, nor stored without being told. A sweep of any process sends
what is due: 2xx delivers; anything else (an error status, a refused or timed-out connection,
an address egress does not allow) is retried with exponential back-off until
`retry_window_s` after the turn ended, then the delivery is marked failed. Every attempt of a
delivery carries the same `webhook-id`, so a receiver can drop repeats.

The signing secret is per organization (`whsec_...`); after a rotation the previous one keeps
signing beside it for `secret_grace_s`, so receivers can switch without missing a message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from taskloom.clock import Clock
from taskloom.config import DeliveryConfig
from taskloom.engine.wire import iso, task_json
from taskloom.llm.egress import check_scheme
from taskloom.llm.tools.http_client import SharedHttpClient
from taskloom.store import webhooks as webhook_store
from taskloom.store.database import Connection, Database
from taskloom.store.records import DeliveryRecord, TaskRecord, TaskStatus

logger = logging.getLogger(__name__)

NOTIFY_KEY = "_notify"  # in a task's request: the webhooks of its workflow, fixed at invoke
_SECRET_PREFIX = "whsec_"
_BATCH = 50

# sends one request; returns the response status, raises OSError-like errors when it cannot
Send = Callable[[str, dict[str, str], bytes, float], Awaitable[int]]


def http_sender(http: SharedHttpClient) -> Send:
    """Webhooks go where agents' tools may: through the client whose every connection the
    egress rules check, no redirects followed."""

    async def send(url: str, headers: dict[str, str], body: bytes, timeout_s: float) -> int:
        check_scheme(url)
        reply = await http.get().post(url, content=body, headers=headers, timeout=timeout_s)
        return reply.status_code

    return send


def new_secret() -> str:
    return _SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(signing_secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: one `v1,<base64 HMAC-SHA256>` per secret, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    parts = []
    for secret in signing_secrets:
        key = base64.b64decode(secret.removeprefix(_SECRET_PREFIX))
        digest = hmac.new(key, signed, hashlib.sha256).digest()
        parts.append("v1," + base64.b64encode(digest).decode())
    return " ".join(parts)


def webhook_targets(definition: dict[str, Any]) -> dict[str, list[dict[str, Any]]] | None:
    """The webhooks of `notification_settings`, per outcome, as a task keeps them."""
    settings = definition.get("notification_settings")
    if not isinstance(settings, dict):
        return None
    targets: dict[str, list[dict[str, Any]]] = {}
    for outcome in ("on_success", "on_error"):
        entries = (settings.get(outcome) or {}).get("webhook") or []
        hooks = [
            {"url": str(entry["url"]), "headers": dict(entry.get("headers") or {})}
            for entry in entries
            if isinstance(entry, dict) and entry.get("url")
        ]
        if hooks:
            targets[outcome] = hooks
    return targets or None


async def queue_completion(conn: Connection, task: TaskRecord, *, now: datetime) -> None:
    """Queue the webhooks of the outcome this turn ended with, in the caller's transaction."""
    targets = task.request.get(NOTIFY_KEY)
    if not isinstance(targets, dict):
        return
    if task.status == TaskStatus.COMPLETED:
        hooks = targets.get("on_success") or []
    elif task.status in (TaskStatus.ERROR, TaskStatus.FAILED):
        hooks = targets.get("on_error") or []
    else:
        return  # stopped: a person did it and knows
    event = f"task.{task.status.value}"
    payload = {"type": event, "timestamp": iso(now), "data": task_json(task)}
    await webhook_store.enqueue(
        conn,
        [
            _delivery(task, event, hook["url"], hook.get("headers") or {}, payload, now)
            for hook in hooks
        ],
    )


async def queue_wait_started(
    conn: Connection,
    task: TaskRecord,
    target: dict[str, Any],
    request: dict[str, Any],
    *,
    now: datetime,
) -> None:
    """Tell a wait node's webhook that its task waits (with the approve / deny links), in
    the transaction that paused it."""
    event = "hitl.requested"
    data = {
        "task_id": task.id,
        **request,
        "approve_button_text": target.get("approve_button_text"),
        "deny_button_text": target.get("deny_button_text"),
    }
    await webhook_store.enqueue(
        conn,
        [
            _delivery(
                task,
                event,
                target["url"],
                target.get("headers") or {},
                {"type": event, "timestamp": iso(now), "data": data},
                now,
            )
        ],
    )


def _delivery(
    task: TaskRecord,
    event: str,
    url: str,
    headers: dict[str, str],
    payload: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex}",
        "organization_id": task.organization_id,
        "task_id": task.id,
        "event": event,
        "url": url,
        "headers": headers,
        "payload": payload,
        "status": webhook_store.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_status_code": None,
        "last_error": None,
        "created_at": now,
        "delivered_at": None,
    }


class Notifications:
    def __init__(self, db: Database, clock: Clock, send: Send, config: DeliveryConfig) -> None:
        self._db = db
        self._clock = clock
        self._send = send
        self._config = config

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
        delivered = 0
        for delivery in due:
            delivered += await self._attempt(delivery, now)
        return delivered

    async def _attempt(self, delivery: DeliveryRecord, now: datetime) -> int:
        assert delivery.next_attempt_at is not None  # due() selects scheduled ones only
        # held past this attempt's timeout: a sender that dies mid-attempt is retried after
        hold = now + timedelta(seconds=self._config.timeout_s * 2 + 1)
        async with self._db.write() as conn:
            if not await webhook_store.hold(
                conn, delivery_id=delivery.id, seen_at=delivery.next_attempt_at, until=hold
            ):
                return 0  # another process's sweep has it
            signing = await self._signing_secrets(conn, delivery.organization_id, now)
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        timestamp = int(now.timestamp())
        headers = {
            **delivery.headers,
            "content-type": "application/json",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(signing, delivery.id, timestamp, body),
        }
        status_code: int | None = None
        error: str | None = None
        try:
            status_code = await self._send(delivery.url, headers, body, self._config.timeout_s)
        except Exception as exc:  # any failure to send is one failed attempt
            error = f"{type(exc).__name__}: {exc}"[:1000]
        ok = status_code is not None and 200 <= status_code < 300
        outcome, next_at = self._after(delivery, ok, now)
        if not ok and error is None:
            error = f"the receiver answered {status_code}"
        async with self._db.write() as conn:
            await webhook_store.record_attempt(
                conn,
                delivery_id=delivery.id,
                status=outcome,
                status_code=status_code,
                error=None if ok else error,
                next_attempt_at=next_at,
                now=self._clock.now(),
            )
        if outcome == webhook_store.FAILED:
            logger.warning(
                "webhook delivery gave up",
                extra={"event": "webhook_failed", "delivery_id": delivery.id, "error": error},
            )
        return int(ok)

    def _after(self, delivery: DeliveryRecord, ok: bool, now: datetime) -> tuple[str, Any]:
        if ok:
            return webhook_store.DELIVERED, None
        backoff = min(
            self._config.max_backoff_s, self._config.first_backoff_s * 2**delivery.attempts
        )
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
