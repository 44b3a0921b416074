"""The event routes of xpander-sdk workers (`@on_task`, docs/xpander-sdk.md): the stream that
registers a worker and hands it tasks, and the endpoint its heartbeats and capacity updates go to.

Served under `/{organization_id}` and `/agent-controller/{organization_id}`, where the SDK puts
its event root.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import StreamingResponse

from taskloom import errors
from taskloom.api.deps import Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.api.routes.sdk import UNDER_ORGANIZATION
from taskloom.store import workflows as workflow_store

CONFLICT = "worker-environment-conflict"
HEARTBEAT = "worker-heartbeat"
CAPACITY = "worker-capacity-update"
FINISHED = "worker-finished"

routes = APIRouter(responses=COMMON_ERRORS, route_class=StrictJsonRoute)


def _named(kind: str, data: Any) -> bytes:
    """One SSE block with an `event:` name, as the SDK's worker stream expects."""
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@routes.get("/events/{agent_id}/")
@routes.get("/events/{agent_id}", include_in_schema=False)
async def worker_stream(
    agent_id: str,
    caller: Caller,
    state: State,
    environment: str = "local",
) -> StreamingResponse:
    """Register a worker for a `container` agent and send it that agent's tasks."""
    async with state.db.read() as conn:
        agent = await workflow_store.get_workflow(
            conn,
            organization_id=caller.organization_id,
            workflow_id=agent_id,
            kind=workflow_store.AGENT,
        )

    async def body() -> AsyncIterator[bytes]:
        if agent.draft.get("deployment_type") != "container":
            # the SDK stops on this event rather than wait for tasks that never come
            message = f"agent {agent_id} is not deployed as `container`: taskloom runs it itself"
            yield _named(CONFLICT, {"error": message})
            return
        session = state.sdk_workers.session(
            organization_id=caller.organization_id, agent_id=agent_id
        )
        async for kind, data in session:
            yield _named(kind, data)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@routes.post("/events/{worker_id}")
async def worker_event(
    worker_id: str,
    event: Annotated[dict[str, Any], Body()],
    caller: Caller,
    state: State,
    type: Annotated[str, Query()] = "worker",
    agent_id: str | None = None,
) -> JSONBody:
    """A worker's heartbeat, capacity update or goodbye."""
    kind = event.get("event")
    org = caller.organization_id
    if kind == HEARTBEAT:
        await state.sdk_workers.heartbeat(organization_id=org, worker_id=worker_id)
    elif kind == CAPACITY:
        data = event.get("data")
        busy = isinstance(data, dict) and data.get("is_busy") is True
        state.sdk_workers.capacity(organization_id=org, worker_id=worker_id, busy=busy)
    elif kind == FINISHED:
        await state.sdk_workers.finished(organization_id=org, worker_id=worker_id)
    else:
        raise errors.InvalidRequest(
            f"unknown worker event {kind!r}: expected {HEARTBEAT}, {CAPACITY} or {FINISHED}"
        )
    return JSONBody({"id": worker_id, "event": kind, "accepted": True})


router = APIRouter(tags=["xpander-sdk workers"])
router.include_router(routes, prefix="/{organization_id:uuid}", dependencies=UNDER_ORGANIZATION)
router.include_router(
    routes, prefix="/agent-controller/{organization_id:uuid}", dependencies=UNDER_ORGANIZATION
)
