"""Rows as frozen records, and the status enums they carry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, Self


class TaskStatus(StrEnum):
    PENDING = "pending"  # accepted, waiting for a worker
    EXECUTING = "executing"  # a worker holds the lease
    PAUSED = "paused"  # waiting for a human or a webhook; holds no lease
    COMPLETED = "completed"  # the workflow produced its result
    ERROR = "error"  # the workflow itself failed (deterministic)
    FAILED = "failed"  # the platform could not finish it
    STOPPED = "stopped"  # stopped by the API or a stop strategy

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.ERROR, TaskStatus.FAILED, TaskStatus.STOPPED}
)


class WorkflowStatus(StrEnum):
    """Whether a workflow or agent takes new tasks (xpander's `status`)."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"  # invokes are refused; running tasks go on
    DRAFT = "DRAFT"


class Executor(StrEnum):
    """Who runs a task: taskloom's own workers, or a user's xpander-sdk worker (`@on_task`)."""

    ENGINE = "engine"
    SDK = "sdk"


class NodeRunStatus(StrEnum):
    COMPLETED = "completed"  # a checkpoint: its output is reused on resume
    FAILED = "failed"  # recorded for the trace; never reused


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's hold on a task it runs: the task is `executing`, fenced on its attempt, and
    goes back to the queue when `expires_at` passes without a renewal."""

    owner: str  # the worker's id
    expires_at: datetime


class _Record:
    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Self:
        return cls(**{f.name: row[f.name] for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal(_Record):
    """Who is calling: resolved from an API key."""

    organization_id: str
    key_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowRecord(_Record):
    id: str
    organization_id: str
    name: str
    kind: str  # `workflow` or `agent`
    draft: dict[str, Any]
    has_pending_changes: bool
    latest_version: int | None
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRecord(_Record):
    id: str
    organization_id: str
    agent_id: str
    agent_version: int
    status: TaskStatus
    turn: int
    input: dict[str, Any]
    request: dict[str, Any]
    result: str | None
    status_reason: str | None
    status_message: str | None
    last_executed_node_id: str | None
    is_manually_stopped: bool
    attempt: int
    max_attempts: int
    attempt_base: int
    event_seq: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    parent_id: str | None
    executor: Executor
    prompt_tokens: int
    completion_tokens: int
    unreported_calls: int  # model calls left out of the counts: the provider gave none
    paused_at: datetime | None
    hitl_request: dict[str, Any] | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", TaskStatus(self.status))
        object.__setattr__(self, "executor", Executor(self.executor))


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeRunRecord(_Record):
    task_id: str
    turn: int
    step: str
    iteration: int
    node_id: str
    node_name: str
    node_type: str
    status: NodeRunStatus
    task_attempt: int
    retries: int
    output: Any
    route: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime
    prompt_tokens: int = 0
    completion_tokens: int = 0
    unreported_calls: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", NodeRunStatus(self.status))


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord(_Record):
    task_id: str
    seq: int
    type: str
    data: Any
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnRecord(_Record):
    task_id: str
    turn: int
    status: str
    input: dict[str, Any]
    request: dict[str, Any]
    result: str | None
    status_reason: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitRecord(_Record):
    task_id: str
    key: str
    turn: int
    node_id: str
    kind: str
    request: dict[str, Any]
    on_timeout: str
    created_at: datetime
    due_at: datetime | None
    decision: dict[str, Any] | None
    decided_at: datetime | None
    link_token_hash: str | None = None
    link_expires_at: datetime | None = None
    state: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleRecord(_Record):
    id: str
    organization_id: str
    target_id: str
    name: str | None
    cron: str
    timezone: str
    input: dict[str, Any]
    version: int | None
    catch_up: str
    enabled: bool
    next_fire_at: datetime | None
    last_fired_at: datetime | None
    last_task_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryRecord(_Record):
    id: str
    organization_id: str
    task_id: str | None
    event: str
    channel: str  # webhook | email | slack
    target: str  # the URL, the recipients, or the Slack channel
    headers: dict[str, str]
    payload: dict[str, Any]  # what is sent: the signed body, the mail, the Slack message
    sealed: str | None  # the channel's credentials, encrypted
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningSecretRecord(_Record):
    organization_id: str
    secret: str
    previous_secret: str | None
    previous_until: datetime | None
    created_at: datetime
    rotated_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolkitRecord(_Record):
    id: str
    organization_id: str
    name: str
    created_by: str | None
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class DocumentStatus(StrEnum):
    PENDING = "pending"  # waiting to be ingested (or being ingested: see its lease)
    READY = "ready"  # chunked, embedded and indexed: it has its public id
    FAILED = "failed"  # could not be fetched or read; `error` says why


@dataclass(frozen=True, slots=True, kw_only=True)
class KnowledgeBaseRecord(_Record):
    id: str
    organization_id: str
    name: str
    description: str | None
    type: str
    agent_id: str | None
    embedding_model: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentRecord(_Record):
    """A document without its uploaded bytes (`load_content` reads those)."""

    id: str
    knowledge_base_id: str
    organization_id: str
    name: str
    document_url: str | None
    content_type: str | None
    status: DocumentStatus
    error: str | None
    attempts: int
    chunk_count: int
    created_at: datetime
    processed_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Self:
        values = {f.name: row[f.name] for f in fields(cls)}
        values["status"] = DocumentStatus(values["status"])
        return cls(**values)
