"""Answering a paused task: approve or reject its `hitl` wait, or resume its `webhook` wait
with a body. Served under /v1 and on the xpander-sdk's internal HITL routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from taskloom.api.deps import Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.api.routes.sdk import UNDER_ORGANIZATION
from taskloom.engine.wire import task_json

router = APIRouter(tags=["waits"], responses=COMMON_ERRORS, route_class=StrictJsonRoute)


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=4_096)
    decided_by: str | None = Field(default=None, max_length=255)


async def _decide(
    task_id: str, approved: bool, decision: Decision | None, caller: Caller, state: State
) -> JSONBody:
    decision = decision or Decision()
    task = await state.waits.decide(
        organization_id=caller.organization_id,
        task_id=task_id,
        approved=approved,
        decided_by=decision.decided_by,
        comment=decision.comment,
    )
    return JSONBody(task_json(task))


@router.post("/v1/tasks/{task_id}/approve")
async def approve(
    task_id: str, caller: Caller, state: State, decision: Annotated[Decision | None, Body()] = None
) -> JSONBody:
    """Approve the task's pending wait; the task goes on from its wait node."""
    return await _decide(task_id, True, decision, caller, state)


@router.post("/v1/tasks/{task_id}/reject")
async def reject(
    task_id: str, caller: Caller, state: State, decision: Annotated[Decision | None, Body()] = None
) -> JSONBody:
    """Reject the task's pending wait: it takes a route made for the rejection, or ends
    `error` / `rejected`."""
    return await _decide(task_id, False, decision, caller, state)


@router.post("/v1/tasks/{task_id}/resume")
async def resume(
    task_id: str, caller: Caller, state: State, body: Annotated[Any, Body()] = None
) -> JSONBody:
    """Resume the task's `webhook` wait: the JSON body becomes the wait node's output."""
    task = await state.waits.resume(
        organization_id=caller.organization_id, task_id=task_id, body=body
    )
    return JSONBody(task_json(task))


# the xpander-sdk's internal routes (bare, and under the organization as its other routes)
_sdk = APIRouter(responses=COMMON_ERRORS, route_class=StrictJsonRoute)
_sdk.add_api_route("/hitl/{task_id}/approve", approve, methods=["POST"])
_sdk.add_api_route("/hitl/{task_id}/reject", reject, methods=["POST"])
router.include_router(_sdk)
router.include_router(_sdk, prefix="/{organization_id:uuid}", dependencies=UNDER_ORGANIZATION)
router.include_router(
    _sdk, prefix="/agent-controller/{organization_id:uuid}", dependencies=UNDER_ORGANIZATION
)


# approve / deny links from a wait's notification: the link is the credential (no API key).
# A GET only shows what the link would do, since mail and chat previews fetch links; the
# decision is the POST of its button.
# Not in /openapi.json: they are for people's browsers, not API clients.
_links = APIRouter(prefix="/v1/hitl/links", include_in_schema=False)
LinkAction = Annotated[Literal["approve", "reject"], Path()]
LinkToken = Annotated[str, Path(min_length=20, max_length=128)]


@_links.get("/{token}/{action}", response_class=HTMLResponse)
async def link_page(token: LinkToken, action: LinkAction) -> HTMLResponse:
    verb = "Approve" if action == "approve" else "Reject"
    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><title>taskloom</title>"
        f"<form method=post><p>{verb} this request?</p><button>{verb}</button></form>"
    )


@_links.post("/{token}/{action}")
async def link_decision(token: LinkToken, action: LinkAction, state: State) -> JSONBody:
    task = await state.waits.decide_by_link(token=token, approved=action == "approve")
    return JSONBody({"task_id": task.id, "status": task.status.value, "decision": action})


# a webhook wait's callback URL: the URL is the credential, for a sender that cannot set
# headers; its JSON body becomes the wait node's output, once
_callbacks = APIRouter(prefix="/v1/hitl/callbacks", include_in_schema=False)


@_callbacks.post("/{token}")
async def callback(token: LinkToken, state: State, body: Annotated[Any, Body()] = None) -> JSONBody:
    task = await state.waits.resume_by_link(token=token, body=body)
    return JSONBody({"task_id": task.id, "status": task.status.value})


router.include_router(_links)
router.include_router(_callbacks)
