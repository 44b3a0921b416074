"""Toolkits (docs/toolkits.md): named sets of HTTP operations, imported from an OpenAPI 3 document
(given in the body, or fetched from a URL under the egress rules) or declared by hand; list
their tools, and invoke one."""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header
from pydantic import BaseModel, ConfigDict, Field

from taskloom import errors
from taskloom.agents.credentials import REDACTED
from taskloom.api.deps import AppState, Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.models import page_json
from taskloom.api.params import Pages
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.clock import utcnow
from taskloom.engine.toolkits import stored_credentials
from taskloom.engine.wire import iso
from taskloom.llm.egress import check_scheme
from taskloom.llm.errors import EgressRefused
from taskloom.nodes.action import answer_of
from taskloom.store import secrets as secret_store
from taskloom.store import toolkits as toolkit_store
from taskloom.store.records import ToolkitRecord
from taskloom.toolkits.calls import BadArguments, prepare
from taskloom.toolkits.definition import Operation, ToolkitSpec, arguments_schema, asset_id
from taskloom.toolkits.openapi import NotOpenApi, base_url_of, operations_of
from taskloom.workflows.definition import Name

router = APIRouter(
    prefix="/v1/toolkits", tags=["toolkits"], responses=COMMON_ERRORS, route_class=StrictJsonRoute
)


class ToolkitBody(BaseModel):
    """Create (or, with every field optional, PATCH) a toolkit: operations declared by hand,
    or imported from an OpenAPI 3 document (`openapi`, or `openapi_url` to fetch)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = None
    base_url: str | None = Field(default=None, max_length=2048)
    headers: dict[str, str] | None = Field(default=None, repr=False)
    operations: list[Operation] | None = None
    openapi: dict[str, Any] | None = None
    openapi_url: str | None = Field(default=None, max_length=2048)


class ToolCall(BaseModel):
    """`POST /v1/toolkits/{id}/tools/{tool_id}`: the call's arguments."""

    model_config = ConfigDict(extra="forbid")

    body_params: Any = None
    query_params: dict[str, Any] | None = None
    path_params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


def tool_json(toolkit_id: str, operation: Operation) -> dict[str, Any]:
    return {
        "id": operation.id,
        "asset_id": asset_id(toolkit_id, operation.id),
        "name": operation.name or operation.id,
        "description": operation.description,
        "method": operation.method,
        "path": operation.path,
        "parameters": [p.model_dump() for p in operation.parameters],
        "body_schema": operation.body_schema,
        "input_schema": arguments_schema(operation),
    }


def toolkit_json(record: ToolkitRecord) -> dict[str, Any]:
    spec = ToolkitSpec.model_validate(record.spec)
    headers = {**spec.headers}
    headers |= {place.split(".", 1)[1]: REDACTED for place in spec.credential_refs}
    return {
        "id": record.id,
        "organization_id": record.organization_id,
        "name": record.name,
        "created_by": record.created_by,
        "description": spec.description,
        "base_url": spec.base_url,
        "headers": headers,
        "tools": [tool_json(record.id, op) for op in spec.operations],
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
    }


async def _fetched(state: AppState, url: str) -> dict[str, Any]:
    """The OpenAPI document at `url`, through the egress-checked client."""
    limit = state.settings.toolkit_document_max_bytes
    timeout_s = state.settings.tool_timeout_s
    import httpx2  # the checked client's library: loaded only when a document is fetched

    try:
        check_scheme(url)
        client = state.http.get()
        async with client.stream("GET", url, timeout=timeout_s, follow_redirects=False) as response:
            received = bytearray()
            async for piece in response.aiter_bytes():
                received += piece
                if len(received) > limit:
                    raise errors.InvalidRequest(
                        f"openapi_url: the document is larger than {limit} bytes"
                    )
    except EgressRefused as exc:
        raise errors.InvalidRequest(f"openapi_url: {exc}") from exc
    except httpx2.HTTPError as exc:
        raise errors.InvalidRequest(f"openapi_url: fetch failed ({type(exc).__name__})") from exc
    if not response.is_success:
        raise errors.InvalidRequest(f"openapi_url: answered HTTP {response.status_code}")
    try:
        document = json.loads(bytes(received))
    except ValueError as exc:
        raise errors.InvalidRequest("openapi_url: the document is not JSON") from exc
    if not isinstance(document, dict):
        raise errors.InvalidRequest("openapi_url: the document is not a JSON object")
    return document


async def _spec(state: AppState, body: ToolkitBody, current: dict[str, Any] | None) -> ToolkitSpec:
    """The toolkit `body` describes, over `current` (a PATCH) if given."""
    values: dict[str, Any] = dict(current or {})
    document, fetched_from = body.openapi, None
    if body.openapi_url is not None:
        document, fetched_from = await _fetched(state, body.openapi_url), body.openapi_url
    if document is not None:
        if body.operations is not None:
            raise errors.InvalidRequest("give `operations` or an OpenAPI document, not both")
        try:
            operations = operations_of(
                document, max_operations=state.settings.toolkit_max_operations
            )
        except NotOpenApi as exc:
            raise errors.InvalidRequest(f"openapi: {exc}") from exc
        values["operations"] = [op.model_dump() for op in operations]
        info = document.get("info") or {}
        values.setdefault("name", info.get("title") if isinstance(info, dict) else None)
        if not values.get("description") and isinstance(info, dict):
            values["description"] = str(info.get("description") or "")
        found = base_url_of(document, fetched_from=fetched_from)
        if found is not None and body.base_url is None:
            values["base_url"] = found
    for field in ("name", "description", "base_url", "operations"):
        given = getattr(body, field)
        if given is not None:
            values[field] = given if field != "operations" else [op.model_dump() for op in given]
    if body.headers is not None:
        values["headers"] = body.headers
        values["credential_refs"] = {}  # the headers given replace every stored one
    if not values.get("base_url"):
        raise errors.InvalidRequest("base_url is required (the document names no server)")
    if not values.get("name"):
        raise errors.InvalidRequest("name is required (the document has no info.title)")
    chosen: list[dict[str, Any]] = values.get("operations") or []
    if len(chosen) > state.settings.toolkit_max_operations:
        raise errors.InvalidRequest(
            f"a toolkit may have at most {state.settings.toolkit_max_operations} operations"
        )
    ids = [op["id"] for op in chosen]
    if len(set(ids)) != len(ids):
        raise errors.InvalidRequest("operation ids must be unique within a toolkit")
    try:
        return ToolkitSpec.model_validate(values)
    except ValueError as exc:
        raise errors.InvalidRequest(f"toolkit: {exc}") from exc


@router.post("", status_code=201)
async def create_toolkit(
    body: Annotated[ToolkitBody, Body()], caller: Caller, state: State
) -> JSONBody:
    toolkit_id = str(uuid.uuid4())
    spec = await _spec(state, body, None)
    spec = await stored_credentials(
        spec, toolkit_id=toolkit_id, organization_id=caller.organization_id, secrets=state.secrets
    )
    async with state.db.write() as conn:
        record = await toolkit_store.create_toolkit(
            conn,
            toolkit_id=toolkit_id,
            organization_id=caller.organization_id,
            name=spec.name,
            created_by=caller.key_id,
            spec=spec.model_dump(mode="json"),
            now=utcnow(),
        )
    return JSONBody(toolkit_json(record), status_code=201)


@router.get("")
async def list_toolkits(caller: Caller, state: State, pages: Pages) -> JSONBody:
    async with state.db.read() as conn:
        found, total = await toolkit_store.list_toolkits(
            conn, organization_id=caller.organization_id, page=pages.page, per_page=pages.per_page
        )
    items = [toolkit_json(record) for record in found]
    return JSONBody(page_json(items, total=total, page=pages.page, per_page=pages.per_page))


async def toolkit_record(state: AppState, caller: Caller, toolkit_id: str) -> ToolkitRecord:
    async with state.db.read() as conn:
        return await toolkit_store.get_toolkit(
            conn, organization_id=caller.organization_id, toolkit_id=toolkit_id
        )


@router.get("/{toolkit_id}")
async def get_toolkit(toolkit_id: str, caller: Caller, state: State) -> JSONBody:
    return JSONBody(toolkit_json(await toolkit_record(state, caller, toolkit_id)))


@router.patch("/{toolkit_id}")
async def update_toolkit(
    toolkit_id: str, body: Annotated[ToolkitBody, Body()], caller: Caller, state: State
) -> JSONBody:
    current = await toolkit_record(state, caller, toolkit_id)
    spec = await _spec(state, body, current.spec)
    spec = await stored_credentials(
        spec, toolkit_id=toolkit_id, organization_id=caller.organization_id, secrets=state.secrets
    )
    async with state.db.write() as conn:
        record = await toolkit_store.update_toolkit(
            conn,
            organization_id=caller.organization_id,
            toolkit_id=toolkit_id,
            name=spec.name,
            spec=spec.model_dump(mode="json"),
            now=utcnow(),
        )
    return JSONBody(toolkit_json(record))


@router.delete("/{toolkit_id}", status_code=202)
async def delete_toolkit(toolkit_id: str, caller: Caller, state: State) -> JSONBody:
    org = caller.organization_id
    async with state.db.write() as conn:
        record = await toolkit_store.get_toolkit(conn, organization_id=org, toolkit_id=toolkit_id)
        await toolkit_store.delete_toolkit(conn, organization_id=org, toolkit_id=toolkit_id)
        # its credentials go with it
        for name in ToolkitSpec.model_validate(record.spec).credential_refs.values():
            with contextlib.suppress(errors.NotFound):
                await secret_store.delete_secret(conn, organization_id=org, name=name)
    return JSONBody({"id": toolkit_id, "deleted": True}, status_code=202)


@router.get("/{toolkit_id}/tools")
async def list_tools(toolkit_id: str, caller: Caller, state: State) -> JSONBody:
    record = await toolkit_record(state, caller, toolkit_id)
    spec = ToolkitSpec.model_validate(record.spec)
    return JSONBody([tool_json(record.id, op) for op in spec.operations])


@router.post("/{toolkit_id}/tools/{tool_id}")
async def invoke_tool(
    toolkit_id: str,
    tool_id: str,
    body: Annotated[ToolCall, Body()],
    caller: Caller,
    state: State,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> JSONBody:
    """Call one operation now. The reply says what the API answered (`status_code`,
    `result`: JSON as data, else text); `is_error` when it failed or was not reached."""
    return JSONBody(await call_operation(state, caller, toolkit_id, tool_id, body, idempotency_key))


def operation_of(record: ToolkitRecord, tool_id: str) -> Operation:
    operation = ToolkitSpec.model_validate(record.spec).operation(tool_id)
    if operation is None:
        raise errors.NotFound(f"toolkit {record.id} has no tool {tool_id}")
    return operation


async def call_operation(
    state: AppState,
    caller: Caller,
    toolkit_id: str,
    tool_id: str,
    call: ToolCall,
    idempotency_key: str | None,
) -> dict[str, Any]:
    """One call of a toolkit's operation, with the toolkit's stored credentials."""
    operation_of(await toolkit_record(state, caller, toolkit_id), tool_id)
    try:
        bound = await state.toolkits.operation(
            organization_id=caller.organization_id, asset_id=asset_id(toolkit_id, tool_id)
        )
    except errors.NodeFailed as exc:  # its credentials cannot be used
        raise errors.Conflict(str(exc)) from exc
    args = call.model_dump(exclude_none=True)
    try:
        prepare(bound, args)
    except BadArguments as exc:
        raise errors.InvalidRequest(str(exc)) from exc
    from taskloom.llm.tools.toolkit import OperationTool  # loads httpx2: only when needed

    llm = state.settings.llm()
    tool = OperationTool(
        bound,
        state.http.get(),
        timeout_s=llm.tool_timeout_s,
        limit_bytes=llm.tool_result_limit_bytes,
    )
    result = await tool.call(args, idempotency_key=idempotency_key or str(uuid.uuid4()))
    shown: Any = result.text if result.is_error else answer_of(result.text)
    return {"is_error": result.is_error, "status_code": result.status_code, "result": shown}
