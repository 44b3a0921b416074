"""How an accepted invoke is answered: at once (async), when it ends (sync), or as a stream.
Shared by every resource that can be invoked."""

from __future__ import annotations

from fastapi.responses import StreamingResponse

from taskloom.api import sse
from taskloom.api.deps import AppState
from taskloom.api.responses import JSONBody
from taskloom.engine.tasks import Accepted
from taskloom.engine.wire import task_json


def accepted_reply(accepted: Accepted) -> JSONBody:
    return JSONBody(task_json(accepted.task))


async def settled_reply(accepted: Accepted, state: AppState) -> JSONBody:
    task = await state.tasks.wait_settled(
        organization_id=accepted.task.organization_id,
        task_id=accepted.task.id,
        timeout_s=state.api.sync_wait_s,
        turn=accepted.turn,
    )
    if not task.status.is_terminal or task.turn < accepted.turn:
        # past the wait budget: answer with the running task rather than hang the connection
        return JSONBody(task_json(task), status_code=202)
    return JSONBody(task_json(task))


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
