"""Decisions on paused tasks: a person's approval or rejection, a webhook's callback, or the
deadline of the wait (a durable timer that any process's sweep fires, once).

Each way in records the decision on the wait with one conditional UPDATE, so exactly one of
any number of racing deciders wins, and queues the task again in the same transaction. The
task's wait node reads the decision when the resumed attempt walks back to it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from taskloom import errors
from taskloom.clock import Clock
from taskloom.config import LinkConfig
from taskloom.engine import lifecycle, notifications
from taskloom.engine.channels.targets import TargetRules
from taskloom.engine.notify import Notifier
from taskloom.engine.wire import iso
from taskloom.nodes.ports import DecidedWait
from taskloom.store import tasks as task_store
from taskloom.store import waits as wait_store
from taskloom.store.database import Connection, Database
from taskloom.store.records import TaskRecord, TaskStatus, WaitRecord

logger = logging.getLogger(__name__)

TIMEOUT_DECIDER = "timeout"
LINK_DECIDER = "approval link"
# whether a decision already made is the one now asked for (a repeat, not a contradiction)
Agrees = Callable[[dict[str, Any]], bool]
_FIRE_BATCH = 100


class Waits:
    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        clock: Clock,
        links: LinkConfig | None = None,
        *,
        targets: TargetRules | None = None,
    ) -> None:
        self._db = db
        self._targets = targets or TargetRules()
        self._notifier = notifier
        self._clock = clock
        self._links = links or LinkConfig()

    # -- the wait node's port --------------------------------------------------------------

    async def decision(self, *, task_id: str, key: str) -> dict[str, Any] | None:
        async with self._db.read() as conn:
            wait = await wait_store.get_wait(conn, task_id=task_id, key=key)
        return None if wait is None else wait.decision

    async def resumed(self, *, task_id: str, key_prefix: str) -> DecidedWait | None:
        async with self._db.read() as conn:
            wait = await wait_store.latest_decided(conn, task_id=task_id, key_prefix=key_prefix)
        if wait is None or wait.decision is None:
            return None
        return DecidedWait(key=wait.key, state=wait.state or {}, decision=wait.decision)

    # -- the attempt pauses ------------------------------------------------------------------

    async def pause(self, task: TaskRecord, request: errors.PauseRequested) -> TaskRecord:
        """Park the attempt's task at its wait node (fenced on the attempt)."""
        now = self._clock.now()
        due = now + timedelta(seconds=request.timeout_s) if request.timeout_s else None
        # a webhook wait always has its callback URL (the sender is often not an API client);
        # a person's wait has approve / deny links when someone is told about it
        linked = request.kind == "webhook" or (request.notify and request.kind == "hitl")
        token = secrets.token_urlsafe(32) if linked else None
        link_expires = due or now + timedelta(seconds=self._links.ttl_s)
        links = self._link_urls(token, request.kind) if token else {}
        shown = {**request.request, "expires_at": iso(due)}
        if request.kind == "webhook":
            shown |= links  # the task shows its callback URL: it is what a sender is handed
        async with self._db.write() as conn:
            if request.started is not None:
                node, started_at = request.started
                await lifecycle.node_started(conn, task, node=node, now=started_at)
            await wait_store.open_wait(
                conn,
                WaitRecord(
                    task_id=task.id,
                    key=request.key,
                    turn=task.turn,
                    node_id=request.node_id,
                    kind=request.kind,
                    request=shown,
                    on_timeout=request.on_timeout,
                    created_at=now,
                    due_at=due,
                    decision=None,
                    decided_at=None,
                    link_token_hash=_digest(token) if token else None,
                    link_expires_at=link_expires if token else None,
                    state=request.state,
                ),
            )
            paused = await task_store.pause_task(
                conn, task_id=task.id, attempt=task.attempt, hitl_request=shown, now=now
            )
            await lifecycle.paused(conn, paused, shown, now=now)
            if request.notify is not None:
                await notifications.queue_wait_started(
                    conn,
                    paused,
                    request.notify,
                    {**shown, **links},
                    now=now,
                    rules=self._targets,
                )
        self._notifier.task_changed(task.id)
        return paused

    # -- ways in -----------------------------------------------------------------------------

    async def decide(
        self,
        *,
        organization_id: str,
        task_id: str,
        approved: bool,
        decided_by: str | None,
        comment: str | None,
    ) -> TaskRecord:
        """Approve or reject the task's pending `hitl` wait. A repeat of the decision already
        made answers as the first one did; a contrary one is a conflict."""
        now = self._clock.now()
        decision = {
            "approved": approved,
            "decided_by": decided_by,
            "comment": comment,
            "decided_at": iso(now),
        }

        def agrees(made: dict[str, Any]) -> bool:
            return not made.get("timed_out") and made.get("approved") is approved

        return await self._settle(
            organization_id, task_id, "hitl", decision, agrees=agrees, now=now
        )

    async def decide_by_link(self, *, token: str, approved: bool) -> TaskRecord:
        """A decision through the link a notification carried: the link is the credential,
        good for one decision until it expires."""
        task = await self._linked_task(token)
        return await self.decide(
            organization_id=task.organization_id,
            task_id=task.id,
            approved=approved,
            decided_by=LINK_DECIDER,
            comment=None,
        )

    async def resume_by_link(self, *, token: str, body: Any) -> TaskRecord:
        """A webhook wait's callback URL called: the URL is the credential, good once."""
        task = await self._linked_task(token)
        return await self.resume(organization_id=task.organization_id, task_id=task.id, body=body)

    async def _linked_task(self, token: str) -> TaskRecord:
        async with self._db.read() as conn:
            wait = await wait_store.wait_by_link(conn, token_hash=_digest(token))
            task = None
            if wait is not None:
                task = await task_store.task_by_id(conn, task_id=wait.task_id)
        if wait is None or task is None:
            raise errors.NotFound("this link is not known")
        if wait.link_expires_at is None or wait.link_expires_at <= self._clock.now():
            raise errors.Conflict("this link has expired")
        if wait.decided_at is not None:
            raise errors.Conflict(f"this was decided already: {_said(wait.decision or {})}")
        return task

    def _link_urls(self, token: str, kind: str) -> dict[str, str]:
        base = self._links.public_url.rstrip("/")
        if kind == "webhook":
            return {"callback_url": f"{base}/v1/hitl/callbacks/{token}"}
        return {
            "approve_url": f"{base}/v1/hitl/links/{token}/approve",
            "deny_url": f"{base}/v1/hitl/links/{token}/reject",
        }

    async def resume(self, *, organization_id: str, task_id: str, body: Any) -> TaskRecord:
        """Hand a `webhook` wait its callback's body, which becomes the node's output."""
        now = self._clock.now()
        decision = {"body": body, "decided_at": iso(now)}
        return await self._settle(
            organization_id,
            task_id,
            "webhook",
            decision,
            agrees=lambda made: made.get("body") == body,
            now=now,
        )

    async def _settle(
        self,
        organization_id: str,
        task_id: str,
        kind: str,
        decision: dict[str, Any],
        *,
        agrees: Agrees,
        now: datetime,
    ) -> TaskRecord:
        async with self._db.write() as conn:
            task = await self._decide(conn, organization_id, task_id, kind, decision, agrees, now)
        if task.status == TaskStatus.PENDING:
            self._resumed([task.id])
        return task

    async def _decide(
        self,
        conn: Connection,
        organization_id: str,
        task_id: str,
        kind: str,
        decision: dict[str, Any],
        agrees: Agrees,
        now: datetime,
    ) -> TaskRecord:
        task = await task_store.get_task(conn, organization_id=organization_id, task_id=task_id)
        wait = await wait_store.latest_wait(conn, task_id=task.id, turn=task.turn)
        if wait is None or wait.kind != kind:
            raise errors.Conflict(f"task {task_id} is not waiting for a {kind} decision")
        if wait.decided_at is None and task.status == TaskStatus.PAUSED:
            if await wait_store.decide(
                conn, task_id=task.id, key=wait.key, decision=decision, now=now
            ):
                resumed = await self._resume(conn, task.id, now)
                if resumed is not None:
                    task = resumed
                return task
            wait = await wait_store.get_wait(conn, task_id=task.id, key=wait.key) or wait
        if wait.decision is not None and agrees(wait.decision):
            return task  # the same decision again: answered as the first time
        if wait.decision is None:
            raise errors.Conflict(f"task {task_id} is {task.status.value}, not waiting")
        raise errors.Conflict(f"task {task_id} was decided already: {_said(wait.decision)}")

    async def fire_due(self) -> int:
        """Decide every wait whose deadline passed by its `on_timeout`; how many fired here.
        Late after downtime, never lost, and once across any number of processes."""
        now = self._clock.now()
        fired: list[str] = []
        async with self._db.write() as conn:
            due = await wait_store.due_waits(
                conn, now=now, limit=_FIRE_BATCH, skip_locked=not self._db.is_sqlite
            )
            for wait in due:
                decision = {
                    "approved": wait.on_timeout == "approve",
                    "decided_by": TIMEOUT_DECIDER,
                    "comment": None,
                    "decided_at": iso(now),
                    "timed_out": True,
                }
                if await wait_store.decide(
                    conn, task_id=wait.task_id, key=wait.key, decision=decision, now=now
                ):
                    await self._resume(conn, wait.task_id, now)
                    fired.append(wait.task_id)
        if fired:
            logger.info("wait deadlines fired", extra={"event": "waits_fired", "count": len(fired)})
            self._resumed(fired)
        return len(fired)

    async def _resume(self, conn: Connection, task_id: str, now: datetime) -> TaskRecord | None:
        resumed = await task_store.resume_task(conn, task_id=task_id, now=now)
        if resumed is not None:
            await lifecycle.publish_task(conn, resumed, lifecycle.TASK_RESUMED, now=now)
        return resumed

    def _resumed(self, task_ids: list[str]) -> None:
        """Hints, once the resume has committed: the next read sees it."""
        self._notifier.work_available()
        for task_id in task_ids:
            self._notifier.task_changed(task_id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _said(decision: dict[str, Any]) -> str:
    if "body" in decision:
        return "a callback was received"
    verdict = "approved" if decision.get("approved") else "rejected"
    return f"{verdict} by {decision.get('decided_by') or 'someone'}"
