"""Invoking a workflow or an agent (docs/api.md): one task, three ways to wait for it.

`async` answers at once with the accepted task, `sync` when its turn ends (or 202 past the
wait budget), `stream` with its events as they are written. The three share one dependency
that accepts the invoke, so they create the very same task.
"""

# no `from __future__ import annotations`: FastAPI must see the routes' `Submitted`, a local
# of invoke_routes, as an object, not as a name to look up in this module
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Header, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import Field

from taskloom.api import sse
from taskloom.api.deps import AppState, Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.invocations import check_conversation, invocation_of
from taskloom.api.models import InvokeRequest
from taskloom.api.params import INT32_MAX
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.engine.intake import Accepted, BusyPolicy
from taskloom.engine.wire import task_json
from taskloom.store.records import TaskRecord

Version = Annotated[
    Annotated[int, Field(ge=1, le=INT32_MAX)] | Literal["draft", "latest"] | None,
    Query(description="a deployed version, `latest` (the default) or `draft`"),
]
InvokeBody = Annotated[InvokeRequest, Body()]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]
Busy = Annotated[
    BusyPolicy | None,
    Query(description="a turn sent while the task runs: reject (409, default) or enqueue"),
]


def invoke_routes(kind: str) -> APIRouter:
    """The invoke routes of one kind of target (`workflow` or `agent`), to be included under
    that resource's prefix: `/{target_id}/invoke`, `/invoke/async`, `/invoke/stream`."""

    async def submit(
        target_id: str,
        body: InvokeBody,
        caller: Caller,
        state: State,
        version: Version = None,
        idempotency_key: IdempotencyKey = None,
        busy: Busy = None,
    ) -> Accepted:
        await check_conversation(state.tasks, body, organization_id=caller.organization_id)
        return await state.intake.invoke(
            invocation_of(
                body,
                organization_id=caller.organization_id,
                workflow_id=target_id,
                kind=kind,
                version=version,
                idempotency_key=idempotency_key,
                busy_policy=busy,
            )
        )

    Submitted = Annotated[Accepted, Depends(submit)]
    router = APIRouter(responses=COMMON_ERRORS, route_class=StrictJsonRoute)

    @router.post("/{target_id}/invoke/async", response_model=None)
    async def invoke_async(accepted: Submitted, state: State) -> Response:
        if accepted.task.turn == 1 and not accepted.replayed:
            # just accepted: no node has run and no sub-task started; no reads needed
            return JSONBody(task_json(accepted.task, [], []))
        return await task_reply(accepted.task, state)

    @router.post("/{target_id}/invoke", response_model=None)
    async def invoke_sync(accepted: Submitted, state: State) -> Response:
        return await settled_reply(accepted, state)

    @router.post("/{target_id}/invoke/stream", response_model=None)
    async def invoke_stream(accepted: Submitted, state: State) -> StreamingResponse:
        return stream_reply(accepted, state)

    return router


async def settled_reply(accepted: Accepted, state: AppState) -> Response:
    task = await state.tasks.wait_settled(
        organization_id=accepted.task.organization_id,
        task_id=accepted.task.id,
        timeout_s=state.api.sync_wait_s,
        turn=accepted.turn,
    )
    if not task.status.is_terminal or task.turn < accepted.turn:
        # past the wait budget: answer with the running task rather than hang the connection
        return await task_reply(task, state, status_code=202)
    return await task_reply(task, state)


async def task_reply(task: TaskRecord, state: AppState, *, status_code: int = 200) -> Response:
    """The task as GET /v1/tasks/{id} shows it (with `node_runs` and `sub_executions`), as
    of `task`: a turn queued behind it may already run, and is not this reply's business."""
    view = await state.views.as_of(task)
    return Response(
        view.body,
        status_code=status_code,
        media_type="application/json",
        headers={"ETag": view.etag.decode()},
    )


def stream_reply(accepted: Accepted, state: AppState) -> StreamingResponse:
    organization_id = accepted.task.organization_id
    events = state.tasks.follow(
        organization_id=organization_id,
        task_id=accepted.task.id,
        after_seq=accepted.first_seq,
        turn=accepted.turn,
        from_turn=accepted.queued_turn,
    )
    return sse.stream(events, organization_id)
