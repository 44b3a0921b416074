"""Accepting work: an invoke (or a conversation's next turn) becomes a task in the store,
and the queue, before the caller hears back. Idempotency keys, trigger duplicates and daily
limits are decided here, in the transaction that accepts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from taskloom import errors
from taskloom.clock import Clock, SystemClock
from taskloom.config import WorkerConfig
from taskloom.engine import lifecycle
from taskloom.engine.channels.targets import TargetRules
from taskloom.engine.notifications import NOTIFY_KEY, notify_targets
from taskloom.engine.notify import Notifier
from taskloom.engine.versions import DRAFT_KEY, DRAFT_VERSION, Wanted, draft_snapshot, pick_version
from taskloom.store import idempotency
from taskloom.store import tasks as task_store
from taskloom.store import workflows as workflow_store
from taskloom.store.database import Connection, Database
from taskloom.store.records import Executor, Lease, TaskRecord, WorkflowStatus
from taskloom.workflows.conditions import lookup

IDEMPOTENCY_WINDOW = timedelta(hours=24)
_DEFINITIONS_KEPT = 256  # deployed definitions kept in memory by invokes
_DEDUP_PREFIX = "dedup:"  # trigger payloads' keys, beside the clients' Idempotency-Keys

BusyPolicy = Literal["reject", "enqueue"]


@dataclass(frozen=True, slots=True)
class Invocation:
    """What an invoke asks for, as the API parsed it."""

    organization_id: str
    workflow_id: str  # a workflow's or an agent's id
    version: Wanted
    input: dict[str, Any]
    request: dict[str, Any]
    kind: str | None = None  # what the id must name (`workflow`, `agent`); None: either
    task_id: str | None = None
    idempotency_key: str | None = None
    busy_policy: BusyPolicy | None = None
    parent_id: str | None = None  # the task whose agent node started this one
    executor: Executor = Executor.ENGINE  # set from the agent's deployment at accept
    # a trigger's payload: with the target's `duplication_prevention`, the same selected
    # values within its ttl return the first task instead of starting another
    dedup_payload: dict[str, Any] | None = None
    # accept the task (or its next turn) already claimed by this lease's worker, which runs
    # it at once (a sub-task in its parent's worker); an SDK worker's task is never held
    held: Lease | None = None

    def fingerprint(self) -> str:
        body = {
            "workflow": self.workflow_id,
            "version": self.version,
            "input": self.input,
            "request": self.request,
            "id": self.task_id,
        }
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Accepted:
    task: TaskRecord
    first_seq: int  # the stream of this invoke starts after this event sequence number
    replayed: bool = False  # an idempotent repeat: no new run was started
    queued_turn: int | None = None  # queued behind a running turn: its stream starts later
    held: bool = False  # accepted claimed by the invocation's `held` lease: no worker is woken

    @property
    def turn(self) -> int:
        """The turn this invoke asked for."""
        return self.queued_turn if self.queued_turn is not None else self.task.turn


class Intake:
    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        config: WorkerConfig,
        *,
        clock: Clock | None = None,
        targets: TargetRules | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        # how `notification_settings` are kept on a task: bot tokens sealed, limits applied
        self._targets = targets or TargetRules()
        self._db = db
        self._notifier = notifier
        self._config = config
        self._definitions: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()

    async def invoke(self, call: Invocation) -> Accepted:
        """Accept a run: the task is in the store (and the queue) before this returns."""
        try:
            accepted = await self._invoke(call)
        except errors.AlreadyExists as exc:
            # two requests raced: the same Idempotency-Key (the loser replays the winner's
            # task) or the same new task id
            if call.idempotency_key is None:
                raise errors.Conflict(f"task id {call.task_id} is already in use") from exc
            async with self._db.read() as conn:
                seen = await idempotency.find_key(
                    conn,
                    organization_id=call.organization_id,
                    key=call.idempotency_key,
                    not_before=self._clock.now() - IDEMPOTENCY_WINDOW,
                )
                if seen is None:
                    raise
                accepted = await self._replay(conn, call, *seen)
        if not accepted.replayed:
            if not accepted.held:
                self._notifier.work_available()
            self._notifier.task_changed(accepted.task.id)
        return accepted

    async def _invoke(self, call: Invocation) -> Accepted:
        now = self._clock.now()
        async with self._db.write() as conn:
            if call.idempotency_key is not None:
                seen = await idempotency.find_key(
                    conn,
                    organization_id=call.organization_id,
                    key=call.idempotency_key,
                    not_before=now - IDEMPOTENCY_WINDOW,
                )
                if seen is not None:
                    return await self._replay(conn, call, *seen)
            target = await workflow_store.get_workflow(
                conn,
                organization_id=call.organization_id,
                workflow_id=call.workflow_id,
                kind=call.kind,
            )
            if target.status == WorkflowStatus.INACTIVE:
                raise errors.Conflict(
                    f"{target.kind} {target.id} is INACTIVE: activate it to invoke"
                )
            version = pick_version(target, call.version)
            run = call
            if version == DRAFT_VERSION:
                run = dataclasses.replace(
                    call, request={**call.request, DRAFT_KEY: draft_snapshot(target)}
                )
            if target.kind == workflow_store.AGENT:
                definition = await self._definition(conn, run, version)
                request = {**_model_snapshot(run.request, definition), "is_orchestration": False}
                # a `container` agent's code runs in the user's own xpander-sdk worker
                external = definition.get("deployment_type") == "container"
                run = dataclasses.replace(
                    run,
                    request=request,
                    executor=Executor.SDK if external else run.executor,
                    held=None if external else run.held,
                )
            definition = await self._definition(conn, run, version)
            run = dataclasses.replace(run, request=_with_output(run.request, definition))
            await self._within_daily_runs(conn, run, definition, now)
            targets = notify_targets(definition, self._targets)
            if targets is not None:  # fixed at invoke, as the version is
                run = dataclasses.replace(run, request={**run.request, NOTIFY_KEY: targets})
            dedup = dedup_key(run, definition)
            duplicate = await self._duplicate_of(conn, run, dedup, now)
            if duplicate is not None:
                return duplicate
            accepted = await self._accept(conn, run, version)
            await self._remember_payload(conn, run, dedup, accepted, now)
            if call.idempotency_key is not None:
                await idempotency.remember_key(
                    conn,
                    organization_id=call.organization_id,
                    key=call.idempotency_key,
                    request_hash=call.fingerprint(),
                    task_id=accepted.task.id,
                    now=now,
                    window=IDEMPOTENCY_WINDOW,
                )
        return accepted

    async def _definition(self, conn: Connection, call: Invocation, version: int) -> dict[str, Any]:
        """The definition this invoke runs; deployed versions never change, so they are kept."""
        if version == DRAFT_VERSION:
            draft: dict[str, Any] = call.request[DRAFT_KEY]
            return draft
        key = (call.workflow_id, version)
        found = self._definitions.get(key)
        if found is None:
            found = await workflow_store.get_version(
                conn, workflow_id=call.workflow_id, version=version
            )
            self._definitions[key] = found
            if len(self._definitions) > _DEFINITIONS_KEPT:
                self._definitions.popitem(last=False)
        self._definitions.move_to_end(key)
        return found

    async def _within_daily_runs(
        self, conn: Connection, call: Invocation, definition: dict[str, Any], now: datetime
    ) -> None:
        """`task_level_strategies.max_runs_per_day`: new tasks per UTC day (continued
        conversations are not new runs). The workflow's row lock makes the count exact under
        concurrent invokes."""
        strategies = definition.get("task_level_strategies")
        limit = (strategies or {}).get("max_runs_per_day")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            return
        if call.task_id is not None and await task_store.owner_of(conn, task_id=call.task_id):
            return  # the next turn of a conversation
        await workflow_store.lock_workflow(conn, workflow_id=call.workflow_id)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        started = await task_store.count_started_since(
            conn, organization_id=call.organization_id, agent_id=call.workflow_id, since=day
        )
        if started >= limit:
            raise errors.RateLimited(
                f"{call.workflow_id} may run {limit} times a day (max_runs_per_day); "
                "the count starts again at 00:00 UTC",
                retry_after_s=int((day + timedelta(days=1) - now).total_seconds()) + 1,
            )

    async def _duplicate_of(
        self, conn: Connection, call: Invocation, dedup: Dedup | None, now: datetime
    ) -> Accepted | None:
        if dedup is None:
            return None
        key, ttl = dedup
        seen = await idempotency.find_key(
            conn, organization_id=call.organization_id, key=key, not_before=now - ttl
        )
        if seen is None:
            return None
        task = await task_store.get_task(
            conn, organization_id=call.organization_id, task_id=seen[1]
        )
        return Accepted(task=task, first_seq=0, replayed=True)

    async def _remember_payload(
        self,
        conn: Connection,
        call: Invocation,
        dedup: Dedup | None,
        accepted: Accepted,
        now: datetime,
    ) -> None:
        if dedup is not None:
            key, ttl = dedup
            await idempotency.remember_key(
                conn,
                organization_id=call.organization_id,
                key=key,
                request_hash=key.removeprefix(_DEDUP_PREFIX),
                task_id=accepted.task.id,
                now=now,
                window=ttl,
            )

    async def _replay(
        self, conn: Connection, call: Invocation, request_hash: str, task_id: str
    ) -> Accepted:
        if request_hash != call.fingerprint():
            raise errors.Conflict(
                f"Idempotency-Key {call.idempotency_key!r} was used with a different request"
            )
        task = await task_store.get_task(
            conn, organization_id=call.organization_id, task_id=task_id
        )
        return Accepted(task=task, first_seq=0, replayed=True)

    async def _accept(self, conn: Connection, call: Invocation, version: int) -> Accepted:
        now = self._clock.now()
        if call.task_id is not None:
            owner = await task_store.owner_of(conn, task_id=call.task_id)
            if owner is not None:
                return await self._next_turn(conn, call, call.task_id, owner, version)
        task = await lifecycle.accept_task(
            conn,
            now=now,
            task_id=call.task_id or str(uuid.uuid4()),
            organization_id=call.organization_id,
            agent_id=call.workflow_id,
            agent_version=version,
            input=call.input,
            request=call.request,
            max_attempts=self._config.max_attempts,
            parent_id=call.parent_id,
            executor=call.executor,
            held=call.held,
        )
        # from its task_created
        first_seq = task.event_seq - (2 if call.held else 1)
        return Accepted(task=task, first_seq=first_seq, held=call.held is not None)

    async def _next_turn(
        self,
        conn: Connection,
        call: Invocation,
        task_id: str,
        owner: str,
        version: int,
    ) -> Accepted:
        """Continue the conversation `task_id` with this invoke's input as its next turn."""
        now = self._clock.now()
        if owner != call.organization_id:
            raise errors.Conflict(f"task id {task_id} is already in use")
        current = await task_store.get_task(conn, organization_id=owner, task_id=task_id)
        if current.agent_id != call.workflow_id:
            raise errors.Conflict(
                f"task {task_id} belongs to {current.agent_id}, not {call.workflow_id}"
            )
        first_seq = current.event_seq
        # what describes the conversation rather than one turn stays unless the turn says
        kept = {k: current.request[k] for k in _CONVERSATION_FIELDS if k in current.request}
        turn = await lifecycle.accept_turn(
            conn,
            organization_id=owner,
            task_id=current.id,
            agent_version=version,
            input=call.input,
            request={**kept, **call.request},
            now=now,
            held=call.held,
        )
        if turn is not None:
            return Accepted(task=turn, first_seq=first_seq, held=call.held is not None)
        if version == DRAFT_VERSION:
            definition = call.request[DRAFT_KEY]
        else:
            definition = await workflow_store.get_version(
                conn, workflow_id=call.workflow_id, version=version
            )
        if _busy_policy(call, definition) == "enqueue":
            queued = await lifecycle.queue_turn(
                conn, task_id=current.id, input=call.input, request=call.request, now=now
            )
            return Accepted(task=current, first_seq=first_seq, queued_turn=queued)
        raise errors.Conflict(
            f"task {current.id} is still {current.status.value}: wait for it to finish, or "
            "send the turn with ?busy=enqueue"
        )


# set on a task by its clients (PATCH), not by one invoke: they carry over to the next turn
_CONVERSATION_FIELDS = ("internal_status", "title")

_MODEL_FIELDS = {
    "llm_model_provider": "model_provider",
    "llm_model_name": "model_name",
    "llm_reasoning_effort": "llm_reasoning_effort",
}


def _model_snapshot(request: dict[str, Any], agent: dict[str, Any]) -> dict[str, Any]:
    """The model an agent task runs with, fixed at invoke: the per-run override, else the
    agent's own setting. A later edit or deploy of the agent does not change it."""
    snapshot = dict(request)
    for field, own in _MODEL_FIELDS.items():
        if snapshot.get(field) is None and agent.get(own) is not None:
            snapshot[field] = agent[own]
    return snapshot


def _with_output(request: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    """The output the task is shaped to, fixed at invoke: the invoke's own `output_format`
    (and schema), else the definition's, so that the Task shows what its result will be."""
    if request.get("output_format") is not None:
        return request
    shaped = {**request, "output_format": definition.get("output_format") or "text"}
    schema = definition.get("output_schema")
    if schema is not None and request.get("output_schema") is None:
        shaped["output_schema"] = schema
    return shaped


def _json_or_none(value: Any) -> Any:
    """A selected value as JSON; a selector that finds nothing selects null."""
    plain = (str, int, float, bool, list, dict, type(None))
    return value if isinstance(value, plain) else None


Dedup = tuple[str, timedelta]  # a trigger payload's duplicate-prevention key, and its ttl


def dedup_key(call: Invocation, definition: dict[str, Any]) -> Dedup | None:
    """The duplicate-prevention key of a trigger's payload, when the target asks for it."""
    if call.dedup_payload is None:
        return None
    rule = duplication_rule(definition)
    if rule is None:
        return None
    selectors, ttl = rule
    picked = [_json_or_none(lookup(call.dedup_payload, s)) for s in selectors]
    digest = hashlib.sha256(
        json.dumps([call.workflow_id, picked], sort_keys=True, default=str).encode()
    ).hexdigest()
    return f"{_DEDUP_PREFIX}{digest}", ttl


def duplication_rule(definition: dict[str, Any]) -> tuple[list[str], timedelta] | None:
    """`task_level_strategies.duplication_prevention`: the dotted selectors whose values make
    two trigger payloads the same, and for how long (`ttl_minutes`, default 10)."""
    strategies = definition.get("task_level_strategies") or {}
    rule = strategies.get("duplication_prevention") or {}
    if not isinstance(rule, dict) or not rule.get("enabled"):
        return None
    selectors = [str(s) for s in rule.get("selectors") or []]
    minutes = rule.get("ttl_minutes") or 10
    if not selectors or not isinstance(minutes, int | float) or minutes <= 0:
        return None
    return selectors, timedelta(minutes=float(minutes))


def _busy_policy(call: Invocation, definition: dict[str, Any]) -> BusyPolicy:
    if call.busy_policy is not None:
        return call.busy_policy
    strategies = definition.get("task_level_strategies") or {}
    return "enqueue" if strategies.get("busy_policy") == "enqueue" else "reject"
