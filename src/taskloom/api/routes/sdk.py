"""The routes the official `xpander-sdk` calls (docs/xpander-sdk.md), so that it runs unchanged
against taskloom.

The SDK sends REST calls to `{base}/...` or, when it takes the base for an agent controller,
to `{base}/{organization_id}/...`, and always opens event streams under
`{base}/{organization_id}/...`. So every route is served bare, under `/{organization_id}` and
under `/agent-controller/{organization_id}` (a base URL with that path prefix). The
organization segment only matches a UUID, so it never shadows `/v1/...`, and it must be the
caller's own: anything else answers 404, as for a task of another organization.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from taskloom import errors
from taskloom.api import sse
from taskloom.api.deps import Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.invocations import check_conversation, invocation_of
from taskloom.api.models import InvokeRequest
from taskloom.api.params import checked_paging
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.api.sdk_models import (
    PushedEvent,
    TaskPatch,
    activity_json,
    agent_json,
    agent_list_item_json,
    agent_version,
    patched_request,
    pushed_events,
)
from taskloom.clock import utcnow
from taskloom.engine import lifecycle
from taskloom.engine.wire import task_json, task_list_item_json
from taskloom.store import events as event_store
from taskloom.store import task_updates
from taskloom.store import tasks as task_store
from taskloom.store import workflows as workflow_store
from taskloom.store.records import EventRecord, Executor, TaskStatus

logger = logging.getLogger(__name__)

SDK_SOURCE = "sdk"
MAX_AGENTS_LISTED = 500
NODE_EVENTS = frozenset({lifecycle.NODE_STARTED, lifecycle.NODE_FINISHED})


async def in_callers_organization(
    organization_id: Annotated[uuid.UUID, Path(description="the caller's own organization")],
    caller: Caller,
) -> None:
    """A route reached under an organization segment serves only that organization."""
    if str(organization_id) != caller.organization_id:
        raise errors.NotFound(f"organization {organization_id} not found")


UNDER_ORGANIZATION = [Depends(in_callers_organization)]


AgentVersion = Annotated[str | None, Header(alias="x-agent-version", max_length=16)]

routes = APIRouter(responses=COMMON_ERRORS, route_class=StrictJsonRoute)


# -- tasks --------------------------------------------------------------------------------


@routes.post("/agent-execution/{agent_id}")
async def create_task(
    agent_id: str,
    body: Annotated[InvokeRequest, Body()],
    caller: Caller,
    state: State,
    x_agent_version: AgentVersion = None,
) -> JSONBody:
    """A new task on the workflow (or agent) `agent_id`, or the next turn of task `body.id`."""
    if body.source is None:
        body = body.model_copy(update={"source": SDK_SOURCE})
    await check_conversation(state.tasks, body, organization_id=caller.organization_id)
    accepted = await state.intake.invoke(
        invocation_of(
            body,
            organization_id=caller.organization_id,
            workflow_id=agent_id,
            version=agent_version(x_agent_version),
        )
    )
    return JSONBody(task_json(accepted.task))


@routes.get("/agent-execution/{task_id}/status")
async def get_task(task_id: str, caller: Caller, state: State) -> Response:
    view = await state.views.render(organization_id=caller.organization_id, task_id=task_id)
    return Response(view.body, media_type="application/json")


@routes.patch("/agent-execution/{task_id}/update")
async def update_task(
    task_id: str, patch: Annotated[TaskPatch, Body()], caller: Caller, state: State
) -> JSONBody:
    now = utcnow()
    async with state.db.write() as conn:
        task = await task_updates.lock_task(
            conn, organization_id=caller.organization_id, task_id=task_id
        )
        by_worker = task.executor == Executor.SDK
        request = patched_request(task, patch, outcome_by_client=by_worker)
        if request is not None:
            task = await task_updates.replace_request(
                conn, task_id=task_id, request=request, now=now
            )
            await lifecycle.publish_task(conn, task, lifecycle.TASK_UPDATED, now=now)
    if by_worker:  # the user's xpander-sdk worker runs it: its word ends the turn
        status = patch.status.value if patch.status is not None else None
        task = await state.sdk_workers.report(
            task, status=status, result=patch.result, tokens=patch.tokens
        )
    state.tasks.announce(task.id)
    return JSONBody(task_json(task))


@routes.delete("/agent-execution/{task_id}")
async def stop_task(task_id: str, caller: Caller, state: State) -> JSONBody:
    task = await state.tasks.stop(organization_id=caller.organization_id, task_id=task_id)
    return JSONBody(task_json(task))


# -- history ------------------------------------------------------------------------------


MAX_HISTORY_PER_PAGE = 100  # the SDK lists a bare array and never pages: its newest 100


class HistoryFilters:
    """The SDK's list filters, plus paging it never sends (newest 100 by default)."""

    def __init__(
        self,
        state: State,
        page: Annotated[int, Query(ge=1)] = 1,
        per_page: Annotated[int, Query(ge=1, le=MAX_HISTORY_PER_PAGE)] = 100,
        parent_task_id: Annotated[str | None, Query(max_length=255)] = None,
        triggering_agent_id: Annotated[str | None, Query(max_length=255)] = None,
        status: TaskStatus | None = None,
        internal_status: Annotated[str | None, Query(max_length=255)] = None,
    ) -> None:
        self.pages = checked_paging(
            state.api, page=page, per_page=per_page, max_per_page=MAX_HISTORY_PER_PAGE
        )
        self.parent_task_id = parent_task_id
        self.triggering_agent_id = triggering_agent_id
        self.status = status
        self.internal_status = internal_status


Filters = Annotated[HistoryFilters, Depends()]


async def _history(
    state: State,
    organization_id: str,
    filters: HistoryFilters,
    *,
    agent_id: str | None,
    user_id: str | None,
) -> JSONBody:
    wanted = task_store.TaskFilters(
        agent_id=agent_id,
        user_id=user_id,
        parent_task_id=filters.parent_task_id,
        triggering_agent_id=filters.triggering_agent_id,
        status=filters.status,
        internal_status=filters.internal_status,
    )
    async with state.db.read() as conn:
        found = await task_store.find_tasks(
            conn,
            organization_id=organization_id,
            filters=wanted,
            limit=filters.pages.per_page,
            offset=filters.pages.offset,
        )
    return JSONBody([task_list_item_json(task) for task in found])


@routes.get("/agent-execution/executions/history/user/{user_id}")
async def list_user_tasks(user_id: str, filters: Filters, caller: Caller, state: State) -> JSONBody:
    return await _history(state, caller.organization_id, filters, agent_id=None, user_id=user_id)


@routes.get("/agent-execution/executions/history/{agent_id}")
async def list_agent_tasks(
    agent_id: str,
    filters: Filters,
    caller: Caller,
    state: State,
    user_id: Annotated[str | None, Query(max_length=255)] = None,
) -> JSONBody:
    return await _history(
        state, caller.organization_id, filters, agent_id=agent_id, user_id=user_id
    )


# -- events -------------------------------------------------------------------------------


@routes.get("/agent-execution/{task_id}/events", response_model=None)
async def task_events(
    task_id: str,
    caller: Caller,
    state: State,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """The task's current turn, from its `task_created` (or resumed after `Last-Event-ID`),
    to its `task_finished`: `task.aevents()` follows one run, not the whole conversation."""
    after = sse.parse_last_event_id(last_event_id)
    task = await state.tasks.get(organization_id=caller.organization_id, task_id=task_id)
    events = state.tasks.follow(
        organization_id=caller.organization_id,
        task_id=task_id,
        after_seq=after,
        from_turn=task.turn if last_event_id is None else None,
    )
    return sse.stream(_sdk_events(events), caller.organization_id)


async def _sdk_events(events: AsyncIterator[EventRecord]) -> AsyncIterator[EventRecord]:
    """Without taskloom's own node events: the SDK's event type is a closed enum, and it logs
    a warning for every event it cannot parse. Their sequence numbers still resume a stream."""
    async for event in events:
        if event.type not in NODE_EVENTS:
            yield event


@routes.post("/agent-execution/{task_id}/events/push")
async def push_events(
    task_id: str,
    events: Annotated[list[PushedEvent], Body()],
    caller: Caller,
    state: State,
) -> JSONBody:
    """Append a client's events (tool calls, reasoning, auth prompts) to the task's stream."""
    rows = pushed_events(task_id, events, utcnow())
    async with state.db.write() as conn:
        await task_updates.lock_task(conn, organization_id=caller.organization_id, task_id=task_id)
        if rows:
            await event_store.append_events(conn, task_id=task_id, events=rows)
    if rows:
        state.tasks.announce(task_id)
    return JSONBody({"task_id": task_id, "accepted": len(rows)})


@routes.post("/agents-metrics/{agent_id}/execution")
async def report_metrics(
    agent_id: str, report: Annotated[dict[str, Any], Body()], caller: Caller
) -> JSONBody:
    """Accepted and not kept: taskloom counts tokens itself, per node and per task."""
    logger.debug(
        "sdk metrics report ignored",
        extra={"event": "sdk_metrics_ignored", "agent_id": agent_id},
    )
    return JSONBody({"agent_id": agent_id, "accepted": True})


@routes.get("/activity/{agent_id}/{task_id}")
async def task_activity(agent_id: str, task_id: str, caller: Caller, state: State) -> JSONBody:
    task = await state.tasks.get(organization_id=caller.organization_id, task_id=task_id)
    if task.agent_id != agent_id:
        raise errors.NotFound(f"task {task_id} not found")
    turns = await state.tasks.turns(organization_id=caller.organization_id, task_id=task_id)
    return JSONBody(activity_json(task, turns))


# -- agents -------------------------------------------------------------------------------


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@routes.get("/agents/list")
async def list_agents(caller: Caller, state: State) -> JSONBody:
    async with state.db.read() as conn:
        found, _total = await workflow_store.list_workflows(
            conn,
            organization_id=caller.organization_id,
            page=1,
            per_page=MAX_AGENTS_LISTED,
            kind=None,  # agents and workflows: the SDK knows both as agents
        )
    return JSONBody([agent_list_item_json(target) for target in found])


@routes.get("/agents/{agent_id}")
async def get_agent(
    request: Request,
    agent_id: str,
    caller: Caller,
    state: State,
    x_agent_version: AgentVersion = None,
) -> JSONBody:
    version = agent_version(x_agent_version)
    async with state.db.read() as conn:
        workflow = await workflow_store.get_workflow(
            conn, organization_id=caller.organization_id, workflow_id=agent_id, kind=None
        )
        if version is not None:
            await workflow_store.get_version(conn, workflow_id=workflow.id, version=version)
    body = agent_json(workflow, base_url=_base_url(request))
    if version is not None:
        body["version"] = version
    return JSONBody(body)


router = APIRouter(tags=["xpander-sdk"])
router.include_router(routes)
router.include_router(routes, prefix="/{organization_id:uuid}", dependencies=UNDER_ORGANIZATION)
router.include_router(
    routes, prefix="/agent-controller/{organization_id:uuid}", dependencies=UNDER_ORGANIZATION
)
