"""What each API operation sends and how its answer is read: built once, sent by either client.

A `Call` is a request description plus a parser. `Client` and `AsyncClient` differ only in how
they send it; flows that take several requests (`wait`) are generators of calls that either
client drives.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from taskloom.client._errors import error_for
from taskloom.client._models import (
    Agent,
    DeployedVersion,
    Message,
    Page,
    Task,
    TaskSummary,
    Workflow,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

Kind = Literal["workflow", "agent"]
Version = int | Literal["draft"] | None

LONG_POLL_MAX_S = 60.0  # the server's ceiling for `?wait=`
_PATHS: dict[Kind, str] = {"workflow": "/v1/workflows", "agent": "/v1/agents"}


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    read_timeout_s: float | None = None  # longer than the client's default, for long polls

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        params = {k: v for k, v in (self.params or {}).items() if v is not None}
        timeout: Any = httpx.USE_CLIENT_DEFAULT
        if self.read_timeout_s is not None:
            timeout = httpx.Timeout(http.timeout.connect, read=self.read_timeout_s)
        return http.build_request(
            self.method,
            self.path,
            params=params,
            json=self.json,
            headers=dict(self.headers),
            timeout=timeout,
        )

    def read(self, response: httpx.Response) -> T:
        if response.is_error:
            raise error_for(response)
        return self.parse(response)


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: model.model_validate(response.json())


def _typed(adapter: TypeAdapter[T]) -> Callable[[httpx.Response], T]:
    return lambda response: adapter.validate_python(response.json())


def _nothing(response: httpx.Response) -> None:
    return None


_TASK_PAGE = TypeAdapter(Page[TaskSummary])
_MESSAGES = TypeAdapter(list[Message])
_VERSIONS = TypeAdapter(list[DeployedVersion])


# -- workflows and agents ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Definitions(Generic[M]):
    """The routes of workflows or of agents: the same operations on two prefixes."""

    kind: Kind
    model: type[M]
    list_path: str

    @property
    def path(self) -> str:
        return _PATHS[self.kind]

    def page(self, *, page: int, per_page: int) -> Call[Page[M]]:
        adapter = TypeAdapter(Page[self.model])  # type: ignore[name-defined]  # a runtime generic
        parse: Callable[[httpx.Response], Page[M]] = _typed(adapter)
        return Call("GET", self.list_path, parse, params={"page": page, "per_page": per_page})

    def get(self, target_id: str) -> Call[M]:
        return Call("GET", f"{self.path}/{target_id}", _model(self.model))

    def create(self, body: Mapping[str, Any]) -> Call[M]:
        return Call("POST", self.path, _model(self.model), json=dict(body))

    def update(self, target_id: str, changes: Mapping[str, Any], *, deploy: bool) -> Call[M]:
        return Call(
            "PATCH",
            f"{self.path}/{target_id}",
            _model(self.model),
            params={"deploy": "true" if deploy else None},
            json=dict(changes),
        )

    def deploy(self, target_id: str) -> Call[M]:
        return Call("PUT", f"{self.path}/{target_id}", _model(self.model))

    def versions(self, target_id: str) -> Call[list[DeployedVersion]]:
        return Call("GET", f"{self.path}/{target_id}/versions", _typed(_VERSIONS))

    def delete(self, target_id: str) -> Call[None]:
        return Call("DELETE", f"{self.path}/{target_id}", _nothing)


WORKFLOWS = Definitions("workflow", Workflow, "/v1/workflows")
# agents are listed in their full shape, so that a listed agent is what `get` returns
AGENTS = Definitions("agent", Agent, "/v1/agents/full")


# -- invoking ---------------------------------------------------------------------------------


def invoke(
    kind: Kind,
    target_id: str,
    *,
    text: str | None,
    input: Mapping[str, Any] | None,
    version: Version,
    task_id: str | None,
    idempotency_key: str | None,
    options: Mapping[str, Any] | None,
    wait: bool,
) -> Call[Task]:
    """`/invoke` (the server waits for the turn's end) or `/invoke/async` (it answers at once)."""
    body: dict[str, Any] = {**(options or {}), "input": dict(input or {})}
    if text is not None:
        body["input"]["text"] = text
    if task_id is not None:
        body["id"] = task_id
    suffix = "/invoke" if wait else "/invoke/async"
    return Call(
        "POST",
        f"{_PATHS[kind]}/{target_id}{suffix}",
        _model(Task),
        params={"version": version},
        json=body,
        headers={"Idempotency-Key": idempotency_key} if idempotency_key else {},
        read_timeout_s=None if not wait else 3600.0,
    )


# -- tasks ------------------------------------------------------------------------------------


def get_task(task_id: str, *, wait_s: float | None = None) -> Call[Task]:
    return Call(
        "GET",
        f"/v1/tasks/{task_id}",
        _model(Task),
        params={"wait": wait_s},
        read_timeout_s=None if wait_s is None else wait_s + 30.0,
    )


def list_tasks(
    *, page: int, per_page: int, filters: Mapping[str, str | None]
) -> Call[Page[TaskSummary]]:
    return Call(
        "GET",
        "/v1/tasks",
        _typed(_TASK_PAGE),
        params={"page": page, "per_page": per_page, **filters},
    )


def stop_task(task_id: str) -> Call[Task]:
    return Call("POST", f"/v1/tasks/{task_id}/stop", _model(Task))


def decide_task(
    task_id: str, *, approved: bool, comment: str | None, decided_by: str | None
) -> Call[Task]:
    """Approve or reject the task's pending `hitl` wait."""
    body = {k: v for k, v in {"comment": comment, "decided_by": decided_by}.items() if v}
    verb = "approve" if approved else "reject"
    return Call("POST", f"/v1/tasks/{task_id}/{verb}", _model(Task), json=body)


def resume_task(task_id: str, body: Any) -> Call[Task]:
    """Hand the task's pending `webhook` wait its body."""
    return Call("POST", f"/v1/tasks/{task_id}/resume", _model(Task), json=body)


def delete_task(task_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/tasks/{task_id}", _nothing)


def thread(task_id: str) -> Call[list[Message]]:
    return Call("GET", f"/v1/tasks/{task_id}/thread", _typed(_MESSAGES))


def wait_flow(
    task_id: str, *, timeout_s: float | None, now: Callable[[], float]
) -> Generator[Call[Task], Task, Task]:
    """Long-poll until the task is terminal or paused, or `timeout_s` has passed; the last
    state read is the answer either way (check its `status`)."""
    deadline = None if timeout_s is None else now() + timeout_s
    while True:
        left = LONG_POLL_MAX_S if deadline is None else min(LONG_POLL_MAX_S, deadline - now())
        task = yield get_task(task_id, wait_s=max(left, 0.001))
        if task.status.is_settled or (deadline is not None and now() >= deadline):
            return task
