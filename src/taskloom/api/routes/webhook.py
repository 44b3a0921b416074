"""The inbound webhook trigger: `POST /webhook?agent_id=...` starts (or continues) a task of a
workflow or an agent from any sender, with a JSON, form or multipart body.

`prompt` is the text; every other field goes along: appended to the text as JSON (what an
agent reads) and kept in the task's `payload_extension.webhook` (what a code node or a
client reads). Uploaded files become the input's `files`, as data URLs, within named limits.
The key may come in the `x-api-key` header or query parameter, so that a sender that cannot
set headers can use the URL as it is.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import Field
from starlette.datastructures import UploadFile

from taskloom import errors
from taskloom.api.deps import State, authenticate
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.responses import COMMON_ERRORS, JSONBody, error_replies
from taskloom.engine.intake import Invocation
from taskloom.engine.wire import iso
from taskloom.store.records import TaskRecord
from taskloom.workflows.conditions import lookup

router = APIRouter(tags=["triggers"], responses=COMMON_ERRORS, route_class=StrictJsonRoute)

MAX_FIELDS = 1000  # form fields one request may carry


@router.post(
    "/webhook",
    responses={
        202: {"description": "a synchronous call whose task is still running"},
        **error_replies(429),
    },
)
async def webhook(
    request: Request,
    state: State,
    agent_id: Annotated[str, Query(min_length=1, max_length=64)],
    asynchronous: bool = False,
    task_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    getter: Annotated[str | None, Query(max_length=255)] = None,
    agent_version: Annotated[
        Annotated[int, Field(ge=1, le=2_147_483_647)] | Literal["latest"] | None, Query()
    ] = None,
    key_header: Annotated[str | None, Header(alias="x-api-key")] = None,
    key_query: Annotated[str | None, Query(alias="x-api-key", max_length=255)] = None,
) -> JSONBody:
    key = key_header or key_query
    if not key:
        raise errors.Unauthenticated("missing x-api-key header or query parameter")
    caller = await authenticate(state, key)
    if task_id is not None:  # a conversation of the caller's: any other id is not found
        await state.tasks.get(organization_id=caller.organization_id, task_id=task_id)
    fields, files = await _payload(request, state)
    prompt = fields.pop("prompt", None)
    text = "" if prompt is None else str(prompt)
    if fields:
        rest = json.dumps(fields, ensure_ascii=False)
        text = f"{text}\n\n{rest}" if text else rest
    input_: dict[str, Any] = {"text": text}
    if files:
        input_["files"] = files
    accepted = await state.intake.invoke(
        Invocation(
            organization_id=caller.organization_id,
            workflow_id=agent_id,
            version=agent_version,
            input=input_,
            request={"source": "webhook", "payload_extension": {"webhook": fields}},
            task_id=task_id,
            dedup_payload={"prompt": prompt, **fields},
        )
    )
    if asynchronous:
        return JSONBody({"status": "Started", "task_id": accepted.task.id})
    task = await state.tasks.wait_settled(
        organization_id=caller.organization_id,
        task_id=accepted.task.id,
        timeout_s=state.api.sync_wait_s,
        turn=accepted.turn,
    )
    finished = task.status.is_terminal and task.turn >= accepted.turn
    return JSONBody(_reply(task, getter), status_code=200 if finished else 202)


async def _payload(request: Request, state: State) -> tuple[dict[str, Any], list[str]]:
    """The body's fields, and its uploaded files as data URLs."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        limits = state.api
        form = await request.form(
            max_files=limits.webhook_max_files,
            max_fields=MAX_FIELDS,
            max_part_size=limits.webhook_max_file_bytes,
        )
        fields: dict[str, Any] = {}
        files: list[str] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                files.append(await _data_url(value, limits.webhook_max_file_bytes))
            else:
                fields[name] = value
        return fields, files
    raw = await request.body()
    if not raw.strip():
        return {}, []
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise errors.InvalidRequest("the body is neither JSON nor a form") from exc
    if not isinstance(body, dict):
        raise errors.InvalidRequest("a JSON body must be an object of fields")
    return body, []


async def _data_url(upload: UploadFile, limit: int) -> str:
    content = await upload.read(limit + 1)
    if len(content) > limit:
        raise errors.PayloadTooLarge(f"{upload.filename!r} is larger than {limit} bytes")
    kind = upload.content_type or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(content).decode()}"


def _reply(task: TaskRecord, getter: str | None) -> dict[str, Any]:
    result: Any = task.result
    if getter:
        found = lookup(task.result or "", getter)
        result = found if isinstance(found, str | int | float | bool | list | dict) else None
    return {
        "id": task.id,
        "agent_id": task.agent_id,
        "status": task.status.value,
        "result": result,
        "created_at": iso(task.created_at),
        "completed_at": iso(task.finished_at),
    }
