"""Tasks: poll (and long-poll), list, follow events, read the thread, stop, delete (docs/api.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from taskloom.api import sse
from taskloom.api.deps import Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.models import page_json
from taskloom.api.params import Pages
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.api.thread import thread_messages
from taskloom.api.views import not_modified
from taskloom.engine.wire import iso, task_json, task_list_item_json
from taskloom.store import tasks as task_store
from taskloom.store.records import TaskRecord, TaskStatus

router = APIRouter(
    prefix="/v1/tasks", tags=["tasks"], responses=COMMON_ERRORS, route_class=StrictJsonRoute
)

MAX_WAIT_S = 60.0


@router.get("")
async def list_tasks(
    caller: Caller,
    state: State,
    pages: Pages,
    agent_id: str | None = None,
    status: TaskStatus | None = None,
    parent_task_id: str | None = None,
    user_id: str | None = None,
    triggering_agent_id: str | None = None,
    internal_status: str | None = None,
) -> JSONBody:
    """Paginated `TasksListItem`s, newest first. Beyond the contract's fields, each item has
    `paused_at` and `hitl_request` (both null unless the task is paused), so that a list of
    paused tasks is an inbox in one request."""
    filters = task_store.TaskFilters(
        agent_id=agent_id,
        status=status,
        user_id=user_id,
        parent_task_id=parent_task_id,
        triggering_agent_id=triggering_agent_id,
        internal_status=internal_status,
    )
    async with state.db.read() as conn:
        found, total = await task_store.list_tasks(
            conn,
            organization_id=caller.organization_id,
            filters=filters,
            page=pages.page,
            per_page=pages.per_page,
        )
    items = [list_item(t) for t in found]
    return JSONBody(page_json(items, total=total, page=pages.page, per_page=pages.per_page))


def list_item(task: TaskRecord) -> dict[str, Any]:
    paused = task.status == TaskStatus.PAUSED
    return task_list_item_json(task) | {
        "paused_at": iso(task.paused_at) if paused else None,
        "hitl_request": task.hitl_request if paused else None,
    }


@router.get("/{task_id}")
async def get_task(
    task_id: str,
    caller: Caller,
    state: State,
    wait: Annotated[
        float | None,
        Query(gt=0, le=MAX_WAIT_S, description="long poll: answer once terminal or paused"),
    ] = None,
    if_none_match: Annotated[
        str | None,
        Header(description="an ETag of an earlier reply: 304 while the task has not changed"),
    ] = None,
) -> Response:
    """Most polls never get here: `api/polls.py` answers a plain GET of a task rendered
    before and unchanged since; this route renders (and long-polls)."""
    if wait is not None:
        await state.tasks.wait_settled(
            organization_id=caller.organization_id, task_id=task_id, timeout_s=wait
        )
    view = await state.views.render(organization_id=caller.organization_id, task_id=task_id)
    headers = {"etag": view.etag.decode()}
    if not_modified(if_none_match.encode("latin-1") if if_none_match else None, view.etag):
        return Response(status_code=304, headers=headers)
    return Response(view.body, media_type="application/json", headers=headers)


@router.get("/{task_id}/events", response_model=None)
async def task_events(
    task_id: str,
    caller: Caller,
    state: State,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    after = sse.parse_last_event_id(last_event_id)
    # resolve the task (404) before the 200 of the stream goes out
    await state.tasks.get(organization_id=caller.organization_id, task_id=task_id)
    events = state.tasks.follow(
        organization_id=caller.organization_id, task_id=task_id, after_seq=after
    )
    return sse.stream(events, caller.organization_id)


@router.get("/{task_id}/thread")
async def task_thread(task_id: str, caller: Caller, state: State) -> JSONBody:
    turns = await state.tasks.turns(organization_id=caller.organization_id, task_id=task_id)
    return JSONBody(thread_messages(turns))


@router.get("/{task_id}/thread/full")
async def task_thread_full(task_id: str, caller: Caller, state: State) -> JSONBody:
    turns = await state.tasks.turns(organization_id=caller.organization_id, task_id=task_id)
    return JSONBody({"root": thread_messages(turns)})


@router.post("/{task_id}/stop")
async def stop_task(task_id: str, caller: Caller, state: State) -> JSONBody:
    task = await state.tasks.stop(organization_id=caller.organization_id, task_id=task_id)
    return JSONBody(task_json(task))


@router.delete("/{task_id}", status_code=204)
async def delete_task(task_id: str, caller: Caller, state: State) -> Response:
    await state.tasks.delete(organization_id=caller.organization_id, task_id=task_id)
    return Response(status_code=204)
