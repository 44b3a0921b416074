"""The xpander-sdk's knowledge routes (`/knowledge_bases`, docs/knowledge.md), over the same
store and search as `/v1/knowledge` (knowledge.py), in the bodies the SDK sends."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from taskloom import errors
from taskloom.api.deps import AppState, Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.api.routes.knowledge import (
    MULTIPART_BODY,
    KnowledgeBaseCreate,
    SearchParams,
    add_documents,
    add_pending,
    create_knowledge_base,
    delete_knowledge_base,
    document_json,
    get_knowledge_base,
    json_body,
    knowledge_base_json,
    search,
    url_documents,
)
from taskloom.api.routes.sdk import UNDER_ORGANIZATION
from taskloom.store import knowledge as store
from taskloom.store.records import DocumentRecord, DocumentStatus
from taskloom.workflows.definition import Name

# bare and under the organization's prefixes, as the SDK's other routes
_sdk = APIRouter(prefix="/knowledge_bases", responses=COMMON_ERRORS, route_class=StrictJsonRoute)


@_sdk.get("")
async def sdk_list(caller: Caller, state: State) -> JSONBody:
    async with state.db.read() as conn:
        bases, _ = await store.list_knowledge_bases(
            conn, organization_id=caller.organization_id, offset=0, limit=state.api.max_page
        )
        counts = await store.count_documents(conn, knowledge_base_ids=[b.id for b in bases])
    return JSONBody([knowledge_base_json(b, counts.get(b.id, 0)) for b in bases])


@_sdk.post("/create", status_code=201)
async def sdk_create(
    body: Annotated[KnowledgeBaseCreate, Body()], caller: Caller, state: State
) -> JSONBody:
    return await create_knowledge_base(body, caller, state)


@_sdk.get("/{kb_id}/details")
async def sdk_details(kb_id: str, caller: Caller, state: State) -> JSONBody:
    return await get_knowledge_base(kb_id, caller, state)


@_sdk.get("/{kb_id}/list")
async def sdk_documents(kb_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.read() as conn:
        await store.get_knowledge_base(
            conn, organization_id=caller.organization_id, knowledge_base_id=kb_id
        )
        documents, _ = await store.list_documents(
            conn,
            organization_id=caller.organization_id,
            knowledge_base_id=kb_id,
            offset=0,
            limit=state.api.max_page,
        )
    return JSONBody([sdk_document_json(d) for d in documents])


@_sdk.get("/{kb_id}")
async def sdk_search(kb_id: str, params: SearchParams, caller: Caller, state: State) -> JSONBody:
    return await search(kb_id, params, caller, state)


class _SdkDocument(BaseModel):
    model_config = ConfigDict(extra="ignore")

    document_url: Annotated[Name, Field(min_length=1, max_length=2048)]
    sync: bool = False


_SDK_ADD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": _SdkDocument.model_json_schema()}
            },
            "multipart/form-data": MULTIPART_BODY,
        },
    }
}


def sdk_document_json(document: DocumentRecord) -> dict[str, Any]:
    """The SDK's `KnowledgeBaseDocumentItem` requires a `document_url`: an upload has its
    file name there."""
    shown = document_json(document)
    shown["document_url"] = document.document_url or document.name
    return shown


@_sdk.post("/{kb_id}", status_code=201, openapi_extra=_SDK_ADD_BODY)
async def sdk_add(kb_id: str, request: Request, caller: Caller, state: State) -> JSONBody:
    """What the SDK sends: `[{"document_url", "sync"}]`; with `sync`, the reply waits until
    the documents are processed (at most `sync_wait_s`). The REST body forms work too."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = None if kind == "multipart/form-data" else await json_body(request)
    if not isinstance(body, list):
        return await add_documents(kb_id, request, caller, state)
    try:
        items = [_SdkDocument.model_validate(item) for item in body]
    except ValidationError as exc:
        raise errors.InvalidRequest(
            f'send [{{"document_url": ...}}]: {exc.errors()[0]["msg"]}'
        ) from exc
    pending = url_documents(
        {"document_urls": [i.document_url for i in items]}, state.knowledge.config.max_files
    )
    added = await add_pending(state, caller.organization_id, kb_id, pending)
    if any(item.sync for item in items):
        added = await _processed(state, caller.organization_id, kb_id, added)
    return JSONBody([sdk_document_json(d) for d in added], status_code=201)


async def _processed(
    state: AppState, organization_id: str, kb_id: str, added: list[DocumentRecord]
) -> list[DocumentRecord]:
    """The documents again once none is pending, or as they are when `sync_wait_s` ran out."""
    deadline = state.clock.monotonic() + state.api.sync_wait_s
    ids = {d.id for d in added}
    while True:
        async with state.db.read() as conn:
            current = await store.documents_by_id(
                conn, organization_id=organization_id, knowledge_base_id=kb_id, ids=ids
            )
        pending = any(d.status is DocumentStatus.PENDING for d in current)
        if not pending or state.clock.monotonic() >= deadline:
            return current
        await state.clock.sleep(_SYNC_POLL_S)


_SYNC_POLL_S = 0.2


@_sdk.delete("/{kb_id}/erase", status_code=202)
async def sdk_erase(kb_id: str, caller: Caller, state: State) -> JSONBody:
    return await delete_knowledge_base(kb_id, caller, state)


_DocumentId = Annotated[Name, Field(max_length=64)]


@_sdk.delete("/{kb_id}", status_code=202)
async def sdk_delete_documents(
    kb_id: str,
    caller: Caller,
    state: State,
    body: Annotated[list[_DocumentId] | None, Body(max_length=1000)] = None,
) -> JSONBody:
    """Deletes the listed documents: the SDK sends a JSON array of their ids."""
    ids = body or []
    async with state.db.write() as conn:
        for document_id in ids:
            await store.delete_document(
                conn,
                organization_id=caller.organization_id,
                knowledge_base_id=kb_id,
                document_id=document_id,
            )
    return JSONBody({"deleted": ids}, status_code=202)


router = APIRouter(tags=["xpander-sdk"])
router.include_router(_sdk)
router.include_router(_sdk, prefix="/{organization_id:uuid}", dependencies=UNDER_ORGANIZATION)
router.include_router(
    _sdk, prefix="/agent-controller/{organization_id:uuid}", dependencies=UNDER_ORGANIZATION
)
