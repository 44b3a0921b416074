"""Typed views of the API's objects (docs/api.md). Unknown fields are kept, never refused."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Agent",
    "CountedTokens",
    "DeployedVersion",
    "Event",
    "Message",
    "NodeRun",
    "Page",
    "Task",
    "TaskStatus",
    "TaskSummary",
    "Tokens",
    "Workflow",
]

T = TypeVar("T")

# fields the server sets on a workflow or an agent; a definition to apply elsewhere has none
SERVER_FIELDS = frozenset(
    {
        "id",
        "organization_id",
        "type",
        "status",
        "version",
        "is_latest",
        "has_pending_changes",
        "deletable",
        "webhook_url",
        "created_at",
        "updated_at",
        "unique_name",
        "access_scope",  # always `organizational` on taskloom
    }
)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class TaskStatus(StrEnum):
    PENDING = "pending"
    EXECUTING = "executing"
    PAUSED = "paused"  # waiting for something outside the task
    COMPLETED = "completed"
    ERROR = "error"  # the run failed in a way a retry would repeat
    FAILED = "failed"  # the platform gave up (e.g. a provider stayed unavailable)
    STOPPED = "stopped"  # stopped by a caller

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_settled(self) -> bool:
        """Terminal or paused: what a long poll waits for."""
        return self in _TERMINAL or self is TaskStatus.PAUSED


_TERMINAL = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.ERROR, TaskStatus.FAILED, TaskStatus.STOPPED}
)


class CountedTokens(_Open):
    """What the model calls that reported their usage used (`Tokens.counted`)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Tokens(_Open):
    """Model usage. When a provider reported none for some call (`unreported_calls`), the
    totals are None and `counted` holds what the other calls reported."""

    prompt_tokens: int | None = 0
    completion_tokens: int | None = 0
    total_tokens: int | None = 0
    unreported_calls: int = 0
    counted: CountedTokens | None = None

    @property
    def text(self) -> str:
        """The total as a person reads it: "-" for none, "unknown" for no count at all,
        ">= N" when some calls went uncounted."""
        if self.unreported_calls == 0:
            return str(self.total_tokens) if self.total_tokens else "-"
        counted = self.counted.total_tokens if self.counted is not None else 0
        uncounted = f"{self.unreported_calls} call{'s' if self.unreported_calls > 1 else ''}"
        if not counted:
            return f"unknown ({uncounted} uncounted)"
        return f">= {counted} ({uncounted} uncounted)"


class NodeRun(_Open):
    """One run of one node in a task's turn (a task's `node_runs`, a `node_finished` event)."""

    node_id: str
    node_name: str | None = None
    node_type: str | None = None
    status: str | None = None
    turn: int | None = None
    step: str | None = None
    iteration: int | None = None
    attempt: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    tokens: Tokens | None = None

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class Task(_Open):
    """A task (`AgentExecution`, docs/api.md): the latest turn's state."""

    id: str
    agent_id: str
    organization_id: str
    status: TaskStatus
    input: dict[str, Any] = Field(default_factory=dict)
    result: str | None = None
    turn: int = 1
    title: str | None = None
    internal_status: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status_reason: str | None = None
    status_message: str | None = None
    parent_execution: str | None = None
    sub_executions: list[str] = Field(default_factory=list)
    tokens: Tokens = Field(default_factory=Tokens)
    node_runs: list[NodeRun] | None = None


class TaskSummary(_Open):
    """A task as lists show it (`TasksListItem`, docs/api.md)."""

    id: str
    agent_id: str
    organization_id: str
    status: TaskStatus
    title: str | None = None
    result: str | None = None
    parent_task_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    status_reason: str | None = None


class _Definition(_Open):
    id: str
    name: str
    organization_id: str
    status: str
    version: int = 0  # the latest deployed version; 0 before the first deploy
    has_pending_changes: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def definition(self) -> dict[str, Any]:
        """The fields a caller writes: what `create`/`update` take, without the server's."""
        body = self.model_dump(mode="json", exclude_none=True)
        return {k: v for k, v in body.items() if k not in SERVER_FIELDS}


class Workflow(_Definition):
    """A workflow (`WorkflowResponse`, docs/api.md)."""

    orchestration_nodes: list[dict[str, Any]] = Field(default_factory=list)

    def definition(self) -> dict[str, Any]:
        body = super().definition()
        body.pop("deployment_type", None)  # a workflow always runs on the server
        return body


class Agent(_Definition):
    """An agent (`AIAgent`, docs/api.md)."""

    model_provider: str | None = None
    model_name: str | None = None

    def definition(self) -> dict[str, Any]:
        body = super().definition()
        # defaults the server fills in for the xpander-sdk: not part of what was written
        for echoed in ("graph", "attached_tools", "source_nodes", "knowledge_bases", "prompts"):
            if body.get(echoed) == []:
                body.pop(echoed)
        return body


class DeployedVersion(_Open):
    """One deployed version of a workflow or agent (`GET .../{id}/versions`, taskloom's own)."""

    version: int
    created_at: datetime | None = None
    is_latest: bool = False


class Page(_Open, Generic[T]):
    """One page of a list (docs/api.md: `items`, `total`, `page`, `per_page`, `total_pages`)."""

    items: list[T]
    total: int
    page: int
    per_page: int
    total_pages: int


class Message(_Open):
    """One message of a task's thread (docs/api.md)."""

    role: str
    content: Any = None
    created_at: int | None = None


class Event(_Open):
    """One task event (docs/events.md); `id` is its per-task sequence number."""

    id: int | None = None
    type: str
    task_id: str | None = None
    organization_id: str | None = None
    time: datetime | None = None
    data: Any = None

    def task(self) -> Task | None:
        """The Task an event carries (`task_*`, `sub_task_*`), else None."""
        if self.type.startswith(("task_", "sub_task_")) and isinstance(self.data, dict):
            return Task.model_validate(self.data)
        return None

    def node_run(self) -> NodeRun | None:
        if self.type in ("node_started", "node_finished") and isinstance(self.data, dict):
            return NodeRun.model_validate(self.data)
        return None
