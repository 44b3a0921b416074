"""Wire shapes of the xpander SDK's routes (docs/xpander-sdk.md) and the decisions behind them
that need no I/O: what a task PATCH may change, which pushed events are accepted, the Agent
views."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from taskloom import errors
from taskloom.engine import lifecycle
from taskloom.engine.wire import iso
from taskloom.store.records import TaskRecord, TaskStatus, TurnRecord, WorkflowRecord
from taskloom.store.workflows import AGENT

MAX_PUSHED_EVENTS = 100
MAX_PUSHED_EVENT_BYTES = 256 * 1024

# Event types whose payload and order the engine guarantees (a stream ends on `task_finished`,
# and reads the turn from its Task): a client may not write them.
RESERVED_EVENT_TYPES = frozenset(
    {
        lifecycle.TASK_CREATED,
        lifecycle.TASK_UPDATED,
        lifecycle.TASK_FINISHED,
        lifecycle.NODE_STARTED,
        lifecycle.NODE_FINISHED,
        "connected",
    }
)


def agent_version(header: str | None) -> int | None:
    """The `x-agent-version` header: a version number, or nothing when absent, empty or
    `latest`."""
    if header is None or header.strip() in ("", "latest"):
        return None
    value = header.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 9 or int(value) < 1:
        problem = "x-agent-version must be a version number"
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ["header", "x-agent-version"],
                    "msg": problem,
                    "input": header,
                }
            ]
        )
    return int(value)


# -- PATCH /agent-execution/{task_id}/update ---------------------------------------------


class TaskPatch(BaseModel):
    """What the SDK PATCHes: a few fields (`Tasks.aupdate`) or its whole local Task
    (`task.asave`). Every other field is an echo of something the server owns: ignored."""

    model_config = ConfigDict(extra="ignore")

    status: TaskStatus | None = None
    result: str | None = None
    internal_status: str | None = Field(default=None, max_length=255)
    title: str | None = Field(default=None, max_length=1024)
    payload_extension: dict[str, Any] | None = None
    tool_call_payload_extension: dict[str, Any] | None = None
    tokens: dict[str, Any] | None = None  # what an SDK worker's run used


def patched_request(
    task: TaskRecord, patch: TaskPatch, *, outcome_by_client: bool = False
) -> dict[str, Any] | None:
    """The task's request with the patch applied, or None when it changes nothing.

    A null means "not given": the SDK drops None keys from partial updates, and a full dump's
    nulls are only what the client's copy lacks. The engine owns status and result: a patch
    that would change them is refused, while one that repeats them (a full dump) is not.
    With `outcome_by_client` (a task an SDK worker runs) they are the worker's to report,
    and left to the caller.
    """
    if outcome_by_client:
        pass
    elif patch.status is not None and patch.status != task.status:
        raise errors.Conflict(
            f"task {task.id} is {task.status.value}: its status is set by the taskloom engine "
            "that runs it, not by clients (reload the task before saving it)"
        )
    if not outcome_by_client and patch.result is not None and patch.result != task.result:
        raise errors.Conflict(
            f"task {task.id}: its result is set by the taskloom engine that runs it"
        )
    request = dict(task.request)
    for field in ("internal_status", "title"):
        value = getattr(patch, field)
        if value is not None:
            request[field] = value
    extension = {**(patch.payload_extension or {}), **(patch.tool_call_payload_extension or {})}
    if extension:
        request["payload_extension"] = {**(request.get("payload_extension") or {}), **extension}
    return None if request == task.request else request


# -- POST /agent-execution/{task_id}/events/push -----------------------------------------

_EVENT_TYPE = r"^[a-z][a-z0-9_\-]*$"


class PushedEvent(BaseModel):
    """A `TaskUpdateEvent` a client appends to a task's stream (tool calls, reasoning, ...)."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(min_length=1, max_length=64, pattern=_EVENT_TYPE)
    task_id: str | None = None
    organization_id: str | None = None
    time: datetime | None = None
    data: Any = None


def pushed_events(
    task_id: str, events: list[PushedEvent], now: datetime
) -> list[tuple[str, Any, datetime]]:
    """(type, data, time) rows for the task's log. They take the server's time: the log's
    order is the order they arrive in, whatever the clients' clocks say."""
    if len(events) > MAX_PUSHED_EVENTS:
        raise errors.InvalidRequest(f"push at most {MAX_PUSHED_EVENTS} events at a time")
    rows: list[tuple[str, Any, datetime]] = []
    for event in events:
        if event.type in RESERVED_EVENT_TYPES:
            raise errors.InvalidRequest(f"event type {event.type!r} is written by taskloom only")
        if event.task_id is not None and event.task_id != task_id:
            raise errors.InvalidRequest(
                f"an event for task {event.task_id!r} was pushed to task {task_id}"
            )
        size = len(json.dumps(event.data, ensure_ascii=False).encode())
        if size > MAX_PUSHED_EVENT_BYTES:
            raise errors.InvalidRequest(
                f"an event's data is {size} bytes, more than {MAX_PUSHED_EVENT_BYTES}"
            )
        rows.append((event.type, event.data, now))
    return rows


# -- Agents: a workflow as the SDK's Agent ------------------------------------------------

_UNIQUE_NAME = re.compile(r"[^a-z0-9]+")


def agent_json(target: WorkflowRecord, *, base_url: str) -> dict[str, Any]:
    """The SDK's `Agent` for an agent or a workflow (type `orchestration`). The SDK requires
    id, organization_id, name, unique_name, framework, model_provider and model_name; a
    workflow has no model of its own, so those are empty. Tools and graph nodes are left out:
    they are taskloom's shapes, which the SDK's stricter models may not parse, and a worker
    that runs the agent brings its own tools."""
    draft = target.draft
    is_agent = target.kind == AGENT
    return {
        "id": target.id,
        "organization_id": target.organization_id,
        "name": target.name,
        "unique_name": _UNIQUE_NAME.sub("-", target.name.lower()).strip("-") or target.id,
        "description": draft.get("description"),
        "icon": draft.get("icon") or "🚀",
        "type": draft.get("type", "regular") if is_agent else "orchestration",
        "status": target.status,
        "version": target.latest_version or 0,
        "framework": "agno",
        "model_provider": (draft.get("model_provider") or "openai") if is_agent else "",
        "model_name": (draft.get("model_name") or "") if is_agent else "",
        "llm_api_base": draft.get("llm_api_base") if is_agent else None,
        "instructions": _instructions(draft)
        if is_agent
        else {"role": [], "goal": [], "general": ""},
        "deployment_type": draft.get("deployment_type", "serverless"),
        "access_scope": "organizational",
        "output_format": draft.get("output_format") or "text",
        "output_schema": draft.get("output_schema"),
        "expected_output": draft.get("expected_output") or "",
        "webhook_url": f"{base_url}/webhook?agent_id={target.id}",
        "created_at": iso(target.created_at),
        "graph": [],
        "tools": [],
        "source_nodes": [],
        "knowledge_bases": [],
    }


def agent_list_item_json(target: WorkflowRecord) -> dict[str, Any]:
    """`AgentsListItem` (docs/xpander-sdk.md `Agents.alist`)."""
    is_agent = target.kind == AGENT
    return {
        "id": target.id,
        "name": target.name,
        "icon": target.draft.get("icon") or "🚀",
        "instructions": _instructions(target.draft)
        if is_agent
        else {"role": [], "goal": [], "general": ""},
        "status": target.status,
        "organization_id": target.organization_id,
        "created_at": iso(target.created_at),
        "description": target.draft.get("description"),
        "access_scope": "organizational",
        "created_by": None,
        "type": target.draft.get("type", "regular") if is_agent else "orchestration",
    }


def _instructions(draft: dict[str, Any]) -> dict[str, Any]:
    given = draft.get("instructions") or {}
    return {
        "role": list(given.get("role") or []),
        "goal": list(given.get("goal") or []),
        "general": given.get("general") or "",
    }


# -- Activity log -------------------------------------------------------------------------


def activity_json(task: TaskRecord, turns: list[TurnRecord]) -> dict[str, Any]:
    """`AgentActivityThread` (docs/api.md) from the task's turns: each turn's input as a
    user message and its result, once there is one, as the agent's answer."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        messages.append(
            {
                "id": f"{task.id}:{turn.turn}:user",
                "created_at": iso(turn.created_at),
                "role": "user",
                "content": {
                    "text": turn.input.get("text", ""),
                    "files": turn.input.get("files", []),
                },
                "user": _activity_user(turn.input),
            }
        )
        if turn.result is not None:
            messages.append(
                {
                    "id": f"{task.id}:{turn.turn}:agent",
                    "created_at": iso(turn.finished_at or turn.created_at),
                    "role": "agent",
                    "content": {"text": turn.result, "files": []},
                }
            )
    return {
        "id": task.id,
        "created_at": iso(task.created_at),
        "messages": messages,
        "user": _activity_user(task.input),
    }


def _activity_user(task_input: dict[str, Any]) -> dict[str, Any] | None:
    # the SDK's User requires an email; a user given without one is left out, not half-sent
    user = task_input.get("user")
    return user if isinstance(user, dict) and user.get("email") else None
