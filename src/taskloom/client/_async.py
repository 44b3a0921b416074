"""`AsyncClient`: the API over httpx.AsyncClient. Requests are built in `_calls`, events are
decoded in `_sse`; this module only sends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Generator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from taskloom.client import _calls as calls
from taskloom.client._calls import Call, Kind, Version
from taskloom.client._errors import error_for, mapped_transport_errors
from taskloom.client._models import (
    Agent,
    DeployedVersion,
    Event,
    Message,
    Page,
    Task,
    TaskSummary,
    Workflow,
)
from taskloom.client._sse import RETRYABLE, EventFeed
from taskloom.client._transport import client_options, stream_timeout

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """The asynchronous twin of `Client`: the same methods, awaited. `async with` it."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        options = client_options(base_url, api_key, timeout_s)
        self._http = httpx.AsyncClient(**options, transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        """Send one prepared call and read its answer (errors as `ApiError` subclasses)."""
        with mapped_transport_errors():
            response = await self._http.send(call.request(self._http))
        return call.read(response)

    async def _drive(self, flow: Generator[Call[Task], Task, Task]) -> Task:
        call = next(flow)
        while True:
            try:
                call = flow.send(await self.send(call))
            except StopIteration as done:
                result: Task = done.value
                return result

    # -- workflows ---------------------------------------------------------------------------

    async def list_workflows(self, *, page: int = 1, per_page: int = 20) -> Page[Workflow]:
        return await self.send(calls.WORKFLOWS.page(page=page, per_page=per_page))

    async def get_workflow(self, workflow_id: str) -> Workflow:
        return await self.send(calls.WORKFLOWS.get(workflow_id))

    async def create_workflow(self, definition: Mapping[str, Any]) -> Workflow:
        return await self.send(calls.WORKFLOWS.create(definition))

    async def update_workflow(
        self, workflow_id: str, changes: Mapping[str, Any], *, deploy: bool = False
    ) -> Workflow:
        return await self.send(calls.WORKFLOWS.update(workflow_id, changes, deploy=deploy))

    async def deploy_workflow(self, workflow_id: str) -> Workflow:
        return await self.send(calls.WORKFLOWS.deploy(workflow_id))

    async def workflow_versions(self, workflow_id: str) -> list[DeployedVersion]:
        return await self.send(calls.WORKFLOWS.versions(workflow_id))

    async def delete_workflow(self, workflow_id: str) -> None:
        await self.send(calls.WORKFLOWS.delete(workflow_id))

    # -- agents ------------------------------------------------------------------------------

    async def list_agents(self, *, page: int = 1, per_page: int = 20) -> Page[Agent]:
        return await self.send(calls.AGENTS.page(page=page, per_page=per_page))

    async def get_agent(self, agent_id: str) -> Agent:
        return await self.send(calls.AGENTS.get(agent_id))

    async def create_agent(self, definition: Mapping[str, Any]) -> Agent:
        return await self.send(calls.AGENTS.create(definition))

    async def update_agent(
        self, agent_id: str, changes: Mapping[str, Any], *, deploy: bool = False
    ) -> Agent:
        return await self.send(calls.AGENTS.update(agent_id, changes, deploy=deploy))

    async def deploy_agent(self, agent_id: str) -> Agent:
        return await self.send(calls.AGENTS.deploy(agent_id))

    async def agent_versions(self, agent_id: str) -> list[DeployedVersion]:
        return await self.send(calls.AGENTS.versions(agent_id))

    async def delete_agent(self, agent_id: str) -> None:
        await self.send(calls.AGENTS.delete(agent_id))

    # -- tasks -------------------------------------------------------------------------------

    async def get_task(self, task_id: str) -> Task:
        return await self.send(calls.get_task(task_id))

    async def list_tasks(
        self,
        *,
        page: int = 1,
        per_page: int = 20,
        agent_id: str | None = None,
        status: str | None = None,
        parent_task_id: str | None = None,
        user_id: str | None = None,
        internal_status: str | None = None,
    ) -> Page[TaskSummary]:
        return await self.send(
            calls.list_tasks(
                page=page,
                per_page=per_page,
                filters={
                    "agent_id": agent_id,
                    "status": status,
                    "parent_task_id": parent_task_id,
                    "user_id": user_id,
                    "internal_status": internal_status,
                },
            )
        )

    async def stop_task(self, task_id: str) -> Task:
        return await self.send(calls.stop_task(task_id))

    async def approve_task(
        self, task_id: str, *, comment: str | None = None, decided_by: str | None = None
    ) -> Task:
        return await self.send(
            calls.decide_task(task_id, approved=True, comment=comment, decided_by=decided_by)
        )

    async def reject_task(
        self, task_id: str, *, comment: str | None = None, decided_by: str | None = None
    ) -> Task:
        return await self.send(
            calls.decide_task(task_id, approved=False, comment=comment, decided_by=decided_by)
        )

    async def resume_task(self, task_id: str, body: Any) -> Task:
        return await self.send(calls.resume_task(task_id, body))

    async def delete_task(self, task_id: str) -> None:
        await self.send(calls.delete_task(task_id))

    async def thread(self, task_id: str) -> list[Message]:
        return await self.send(calls.thread(task_id))

    # -- invoking ----------------------------------------------------------------------------

    async def invoke(
        self,
        target_id: str,
        text: str | None = None,
        *,
        kind: Kind = "workflow",
        input: Mapping[str, Any] | None = None,
        version: Version = None,
        task_id: str | None = None,
        idempotency_key: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Task:
        """Run a turn and answer when it ends: the server waits up to its `sync_wait_s`, then
        answers with the task still running (check `status`, or `wait()` for it)."""
        return await self.send(
            calls.invoke(
                kind,
                target_id,
                text=text,
                input=input,
                version=version,
                task_id=task_id,
                idempotency_key=idempotency_key,
                options=options,
                wait=True,
            )
        )

    async def submit(
        self,
        target_id: str,
        text: str | None = None,
        *,
        kind: Kind = "workflow",
        input: Mapping[str, Any] | None = None,
        version: Version = None,
        task_id: str | None = None,
        idempotency_key: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Task:
        """Start a turn and answer at once with the accepted task (`/invoke/async`)."""
        return await self.send(
            calls.invoke(
                kind,
                target_id,
                text=text,
                input=input,
                version=version,
                task_id=task_id,
                idempotency_key=idempotency_key,
                options=options,
                wait=False,
            )
        )

    async def wait(self, task_id: str, *, timeout_s: float | None = None) -> Task:
        """The task once it is terminal or paused, by the server's long poll; after
        `timeout_s` (None: no limit) the task as it then is."""
        return await self._drive(calls.wait_flow(task_id, timeout_s=timeout_s, now=time.monotonic))

    async def events(
        self,
        task_id: str,
        *,
        after: int = 0,
        from_turn: int | None = None,
        max_retries: int = 5,
    ) -> AsyncIterator[Event]:
        """The task's events after sequence `after`, live until the task is terminal.

        A dropped connection or a server restart is bridged: the stream is reopened with
        `Last-Event-ID`, so no event is lost or repeated. `from_turn` skips the events of
        earlier turns of a multi-turn task."""
        feed = EventFeed(task_id, last_id=after, from_turn=from_turn, max_retries=max_retries)
        while True:
            failure: Exception | None = None
            try:
                with mapped_transport_errors():
                    async with self._http.stream(
                        "GET", feed.path, headers=feed.headers(), timeout=stream_timeout(self._http)
                    ) as response:
                        if response.is_error:
                            await response.aread()
                            raise error_for(response)
                        feed.connected()
                        async for line in response.aiter_lines():
                            if (event := feed.feed(line)) is not None:
                                yield event
            except RETRYABLE as exc:
                failure = exc
            delay = feed.retry_after(failure)
            if delay is None:
                return
            await asyncio.sleep(delay)  # noqa: TID251  # back-off between reconnects: real time is the point
