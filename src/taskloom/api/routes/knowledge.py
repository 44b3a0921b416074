"""Knowledge bases (`/v1/knowledge`, docs/knowledge.md) and the xpander-sdk's `/knowledge_bases`.

Documents are added by URL (`{"document_urls": [...]}`) or uploaded to the same route as
`multipart/form-data` (field `file`, repeatable). Either way the reply comes at once: each
document is listed with `id: null`, and gets its id once a worker has ingested it.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from taskloom import errors
from taskloom.api.deps import AppState, Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.models import page_json
from taskloom.api.params import Pages
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.engine.wire import iso
from taskloom.knowledge.search import SearchMode
from taskloom.llm.egress import check_scheme
from taskloom.llm.errors import EgressRefused
from taskloom.llm.tools.knowledge import Passage
from taskloom.store import knowledge as store
from taskloom.store.records import DocumentRecord, DocumentStatus, KnowledgeBaseRecord
from taskloom.workflows.definition import Name

router = APIRouter(
    prefix="/v1/knowledge", tags=["knowledge"], responses=COMMON_ERRORS, route_class=StrictJsonRoute
)


class KnowledgeBaseCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Name = Field(min_length=1, max_length=255)
    description: Name | None = Field(default=None, max_length=10_000)
    type: Name = Field(default="managed", min_length=1, max_length=32)
    agent_id: Name | None = Field(default=None, max_length=64)


class KnowledgeBaseUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Name | None = Field(default=None, min_length=1, max_length=255)
    description: Name | None = Field(default=None, max_length=10_000)
    agent_id: Name | None = Field(default=None, max_length=64)


class DocumentUrls(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_urls: list[Annotated[Name, Field(min_length=1, max_length=2048)]] = Field(min_length=1)


def knowledge_base_json(base: KnowledgeBaseRecord, total_documents: int) -> dict[str, Any]:
    """`KnowledgeBaseItem`."""
    return {
        "id": base.id,
        "name": base.name,
        "description": base.description,
        "type": base.type,
        "organization_id": base.organization_id,
        "agent_id": base.agent_id,
        "total_documents": total_documents,
        "embedding_model": base.embedding_model,
        "created_at": iso(base.created_at),
        "updated_at": iso(base.updated_at),
    }


def document_json(document: DocumentRecord) -> dict[str, Any]:
    ready = document.status is not DocumentStatus.PENDING
    return {
        "kb_id": document.knowledge_base_id,
        # the contract: no id until the document is processed
        "id": document.id if ready else None,
        "name": document.name,
        "document_url": document.document_url,
        "status": document.status.value,
        "error": document.error if document.status is DocumentStatus.FAILED else None,
        "chunk_count": document.chunk_count,
        "created_at": iso(document.created_at),
        "processed_at": iso(document.processed_at),
    }


def passage_json(passage: Passage) -> dict[str, Any]:
    return {
        "content": passage.content,
        "score": passage.score,
        # beyond the contract's pair: where the passage comes from
        "document_id": passage.document_id,
        "document_name": passage.document_name,
        "chunk_id": passage.chunk_id,
        "section": passage.heading,
    }


async def _with_count(state: State, base: KnowledgeBaseRecord) -> dict[str, Any]:
    async with state.db.read() as conn:
        counts = await store.count_documents(conn, knowledge_base_ids=[base.id])
    return knowledge_base_json(base, counts.get(base.id, 0))


@router.post("", status_code=201)
async def create_knowledge_base(
    body: Annotated[KnowledgeBaseCreate, Body()], caller: Caller, state: State
) -> JSONBody:
    now = state.clock.now()
    async with state.db.write() as conn:
        created = await store.create_knowledge_base(
            conn,
            {
                "id": str(uuid.uuid4()),
                "organization_id": caller.organization_id,
                "name": body.name,
                "description": body.description,
                "type": body.type,
                "agent_id": body.agent_id,
                "embedding_model": None,
                "created_at": now,
                "updated_at": now,
            },
        )
    return JSONBody(knowledge_base_json(created, 0), status_code=201)


@router.get("")
async def list_knowledge_bases(caller: Caller, state: State, pages: Pages) -> JSONBody:
    async with state.db.read() as conn:
        bases, total = await store.list_knowledge_bases(
            conn, organization_id=caller.organization_id, offset=pages.offset, limit=pages.per_page
        )
        counts = await store.count_documents(conn, knowledge_base_ids=[b.id for b in bases])
    items = [knowledge_base_json(b, counts.get(b.id, 0)) for b in bases]
    return JSONBody(page_json(items, total=total, page=pages.page, per_page=pages.per_page))


@router.get("/{kb_id}")
async def get_knowledge_base(kb_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.read() as conn:
        base = await store.get_knowledge_base(
            conn, organization_id=caller.organization_id, knowledge_base_id=kb_id
        )
    return JSONBody(await _with_count(state, base))


@router.patch("/{kb_id}")
async def update_knowledge_base(
    kb_id: str, body: Annotated[KnowledgeBaseUpdate, Body()], caller: Caller, state: State
) -> JSONBody:
    values = body.model_dump(exclude_unset=True)
    values["updated_at"] = state.clock.now()
    async with state.db.write() as conn:
        base = await store.update_knowledge_base(
            conn, organization_id=caller.organization_id, knowledge_base_id=kb_id, values=values
        )
    return JSONBody(await _with_count(state, base))


@router.delete("/{kb_id}", status_code=202)
async def delete_knowledge_base(kb_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.write() as conn:
        await store.delete_knowledge_base(
            conn, organization_id=caller.organization_id, knowledge_base_id=kb_id
        )
    return JSONBody({"id": kb_id, "deleted": True}, status_code=202)


@router.get("/{kb_id}/documents")
async def list_documents(kb_id: str, caller: Caller, state: State, pages: Pages) -> JSONBody:
    async with state.db.read() as conn:
        await store.get_knowledge_base(
            conn, organization_id=caller.organization_id, knowledge_base_id=kb_id
        )
        documents, total = await store.list_documents(
            conn,
            organization_id=caller.organization_id,
            knowledge_base_id=kb_id,
            offset=pages.offset,
            limit=pages.per_page,
        )
    items = [document_json(d) for d in documents]
    return JSONBody(page_json(items, total=total, page=pages.page, per_page=pages.per_page))


MULTIPART_BODY: dict[str, Any] = {
    "schema": {
        "type": "object",
        "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}},
        "required": ["file"],
    }
}
_ADD_DOCUMENTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": DocumentUrls.model_json_schema()},
            "multipart/form-data": MULTIPART_BODY,
        },
    }
}


@router.post("/{kb_id}/documents", status_code=201, openapi_extra=_ADD_DOCUMENTS_BODY)
async def add_documents(kb_id: str, request: Request, caller: Caller, state: State) -> JSONBody:
    config = state.knowledge.config
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        pending = await _uploads(request, config.max_files, config.max_file_bytes)
    else:
        pending = url_documents(await json_body(request), config.max_files)
    added = await add_pending(state, caller.organization_id, kb_id, pending)
    return JSONBody([document_json(d) for d in added], status_code=201)


async def add_pending(
    state: AppState, organization_id: str, kb_id: str, pending: list[dict[str, Any]]
) -> list[DocumentRecord]:
    now = state.clock.now()
    async with state.db.write() as conn:
        await store.get_knowledge_base(
            conn, organization_id=organization_id, knowledge_base_id=kb_id
        )
        added = await store.add_documents(
            conn,
            [
                {
                    "id": str(uuid.uuid4()),
                    "knowledge_base_id": kb_id,
                    "organization_id": organization_id,
                    "status": DocumentStatus.PENDING,
                    "error": None,
                    "attempts": 0,
                    "lease_owner": None,
                    "lease_expires_at": None,
                    "chunk_count": 0,
                    "created_at": now,
                    "processed_at": None,
                    **document,
                }
                for document in pending
            ],
        )
    state.knowledge.ingestor.wake()
    return added


async def json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:
        raise errors.InvalidRequest(
            'send {"document_urls": [...]} as JSON, or files as multipart field `file`'
        ) from exc


def url_documents(body: Any, max_files: int) -> list[dict[str, Any]]:
    try:
        urls = DocumentUrls.model_validate(body).document_urls
    except ValidationError as exc:
        raise errors.InvalidRequest(
            f"document_urls must be a non-empty list of URLs: {exc.errors()[0]['msg']}"
        ) from exc
    if len(urls) > max_files:
        raise errors.InvalidRequest(f"at most {max_files} documents per request")
    for url in urls:
        try:
            check_scheme(url)
        except EgressRefused as exc:
            raise errors.InvalidRequest(str(exc)) from exc
    return [
        {"name": _url_name(url), "document_url": url, "content_type": None, "content": None}
        for url in urls
    ]


def _url_name(url: str) -> str:
    path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return path.rsplit("/", 1)[-1] or url


async def _uploads(request: Request, max_files: int, max_bytes: int) -> list[dict[str, Any]]:
    form = await request.form(max_files=max_files, max_fields=16, max_part_size=max_bytes)
    files = [value for name, value in form.multi_items() if isinstance(value, UploadFile)]
    if not files or any(
        name != "file" for name, v in form.multi_items() if isinstance(v, UploadFile)
    ):
        raise errors.InvalidRequest("upload documents as multipart field `file` (repeatable)")
    uploads = []
    for upload in files:
        content = await upload.read(max_bytes + 1)
        if len(content) > max_bytes:
            raise errors.PayloadTooLarge(f"{upload.filename!r} is larger than {max_bytes} bytes")
        uploads.append(
            {
                "name": (upload.filename or "upload").replace("\x00", "")[:1024] or "upload",
                "document_url": None,
                "content_type": (upload.content_type or "").replace("\x00", "")[:255] or None,
                "content": content,
            }
        )
    return uploads


@router.get("/{kb_id}/documents/{document_id}")
async def get_document(kb_id: str, document_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.read() as conn:
        document = await store.get_document(
            conn,
            organization_id=caller.organization_id,
            knowledge_base_id=kb_id,
            document_id=document_id,
        )
    return JSONBody(document_json(document))


@router.delete("/{kb_id}/documents/{document_id}", status_code=202)
async def delete_document(kb_id: str, document_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.write() as conn:
        await store.delete_document(
            conn,
            organization_id=caller.organization_id,
            knowledge_base_id=kb_id,
            document_id=document_id,
        )
    return JSONBody({"id": document_id, "deleted": True}, status_code=202)


async def search_params(
    state: State,
    search_query: Annotated[str, Query(min_length=1)],
    top_k: Annotated[int, Query(ge=1)] = 5,
    use_bubble: bool = False,
    bubble_size: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    mode: SearchMode = SearchMode.AUTO,
) -> tuple[str, int, SearchMode]:
    config = state.knowledge.config
    if top_k > config.max_top_k:
        raise errors.InvalidRequest(f"top_k must be at most {config.max_top_k}")
    if len(search_query) > config.max_query_chars:
        raise errors.InvalidRequest(
            f"search_query must be at most {config.max_query_chars} characters"
        )
    return search_query, top_k, mode


SearchParams = Annotated[tuple[str, int, SearchMode], Depends(search_params)]


@router.get("/{kb_id}/search")
async def search(kb_id: str, params: SearchParams, caller: Caller, state: State) -> JSONBody:
    query, top_k, mode = params
    passages = await state.knowledge.search.search(
        organization_id=caller.organization_id,
        knowledge_base_id=kb_id,
        query=query,
        top_k=top_k,
        mode=mode,
    )
    return JSONBody([passage_json(p) for p in passages])
