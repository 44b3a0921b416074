"""Tasks: poll, list, stop and delete (API.md §2.3)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from taskloom.api.deps import Caller, State
from taskloom.api.models import page_json, task_json, task_list_item_json
from taskloom.store import tasks as task_store
from taskloom.store.records import TaskStatus

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])


@router.get("")
async def list_tasks(
    caller: Caller,
    state: State,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=50)] = 20,
    agent_id: str | None = None,
    status: TaskStatus | None = None,
    parent_task_id: str | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    async with state.db.read() as conn:
        found, total = await task_store.list_tasks(
            conn,
            organization_id=caller.organization_id,
            page=page,
            per_page=per_page,
            agent_id=agent_id,
            status=status,
            parent_task_id=parent_task_id,
            user_id=user_id,
        )
    return page_json(
        [task_list_item_json(t) for t in found], total=total, page=page, per_page=per_page
    )


@router.get("/{task_id}")
async def get_task(task_id: str, caller: Caller, state: State) -> dict[str, Any]:
    task, trace = await state.tasks.get_with_trace(
        organization_id=caller.organization_id, task_id=task_id
    )
    return task_json(task, trace)


@router.post("/{task_id}/stop")
async def stop_task(task_id: str, caller: Caller, state: State) -> dict[str, Any]:
    task = await state.tasks.stop(organization_id=caller.organization_id, task_id=task_id)
    return task_json(task)


@router.delete("/{task_id}", status_code=204)
async def delete_task(task_id: str, caller: Caller, state: State) -> Response:
    await state.tasks.delete(organization_id=caller.organization_id, task_id=task_id)
    return Response(status_code=204)
