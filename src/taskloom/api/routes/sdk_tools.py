"""The xpander-sdk's tool routes (`/tools/{toolkit}_{operation}`, docs/toolkits.md): load one
toolkit operation as the SDK's `Tool` and call it standalone, over the same toolkits as
`/v1/toolkits` (toolkits.py).

The SDK builds its `Tool` from the GET reply and sets the method, path and ids itself, so the
reply names only what it cannot know. A call the API refused or that never reached it is a
502 carrying the API's status and answer: the SDK reads any error status as a failed call,
and a 404 of taskloom's own (no such tool) must stay distinguishable from the API's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header

from taskloom import errors
from taskloom.api.deps import Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.responses import COMMON_ERRORS, JSONBody, error_replies
from taskloom.api.routes.sdk import UNDER_ORGANIZATION
from taskloom.api.routes.toolkits import ToolCall, call_operation, operation_of, toolkit_record
from taskloom.toolkits.definition import arguments_schema, split_asset_id

_sdk = APIRouter(prefix="/tools", responses=COMMON_ERRORS, route_class=StrictJsonRoute)


def _ids(tool_id: str) -> tuple[str, str]:
    toolkit_id, operation_id = split_asset_id(tool_id)
    if operation_id is None:
        raise errors.NotFound(f"no tool {tool_id}: a tool id is <toolkit id>_<operation id>")
    return toolkit_id, operation_id


@_sdk.get("/{tool_id}")
async def get_tool(tool_id: str, caller: Caller, state: State) -> JSONBody:
    toolkit_id, operation_id = _ids(tool_id)
    operation = operation_of(await toolkit_record(state, caller, toolkit_id), operation_id)
    return JSONBody(
        {
            "id": tool_id,
            "name": operation.name or operation.id,
            "description": operation.description,
            "parameters": arguments_schema(operation),
        }
    )


@_sdk.post("/{tool_id}", responses=error_replies(502))
async def invoke_tool(
    tool_id: str,
    body: Annotated[ToolCall, Body()],
    caller: Caller,
    state: State,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> JSONBody:
    """Call the operation; the reply is the API's answer (JSON as data, else text)."""
    toolkit_id, operation_id = _ids(tool_id)
    called = await call_operation(state, caller, toolkit_id, operation_id, body, idempotency_key)
    if called["is_error"]:
        detail: dict[str, Any] = {
            "detail": f"tool {tool_id} failed",
            "status_code": called["status_code"],
            "result": called["result"],
        }
        return JSONBody(detail, status_code=502)
    return JSONBody(called["result"])


router = APIRouter(tags=["xpander-sdk"])
router.include_router(_sdk)
router.include_router(_sdk, prefix="/{organization_id:uuid}", dependencies=UNDER_ORGANIZATION)
router.include_router(
    _sdk, prefix="/agent-controller/{organization_id:uuid}", dependencies=UNDER_ORGANIZATION
)
