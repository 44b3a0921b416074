"""Knowledge bases and their documents; the documents table is also the ingestion queue.

A document is `pending` until a worker has chunked, embedded and indexed it. A worker claims
one by leasing it; the chunks go in with the `ready` status in one transaction (index_*.py
write them), so a worker killed mid-ingest leaves the document pending, and the next claim
after its lease ran out starts it again from nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection
from taskloom.store.records import DocumentRecord, DocumentStatus, KnowledgeBaseRecord
from taskloom.store.tables import knowledge_bases, knowledge_chunks, knowledge_documents

kb = knowledge_bases
doc = knowledge_documents
chunk = knowledge_chunks

_DOCUMENT_COLUMNS = [
    c for c in doc.c if c.name not in ("content", "lease_owner", "lease_expires_at")
]


async def create_knowledge_base(conn: Connection, values: dict[str, Any]) -> KnowledgeBaseRecord:
    await conn.execute(sa.insert(kb).values(**values))
    return KnowledgeBaseRecord.from_row(values)


async def get_knowledge_base(
    conn: Connection, *, organization_id: str, knowledge_base_id: str
) -> KnowledgeBaseRecord:
    row = (
        (
            await conn.execute(
                sa.select(kb).where(
                    kb.c.id == knowledge_base_id, kb.c.organization_id == organization_id
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise errors.NotFound(f"knowledge base {knowledge_base_id} not found")
    return KnowledgeBaseRecord.from_row(row)


async def list_knowledge_bases(
    conn: Connection, *, organization_id: str, offset: int, limit: int
) -> tuple[list[KnowledgeBaseRecord], int]:
    mine = kb.c.organization_id == organization_id
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(kb).where(mine))
    ).scalar_one()
    rows = await conn.execute(
        sa.select(kb).where(mine).order_by(kb.c.created_at, kb.c.id).offset(offset).limit(limit)
    )
    return [KnowledgeBaseRecord.from_row(r) for r in rows.mappings()], int(total)


async def update_knowledge_base(
    conn: Connection, *, organization_id: str, knowledge_base_id: str, values: dict[str, Any]
) -> KnowledgeBaseRecord:
    updated = await conn.execute(
        sa.update(kb)
        .where(kb.c.id == knowledge_base_id, kb.c.organization_id == organization_id)
        .values(**values)
    )
    if updated.rowcount == 0:
        raise errors.NotFound(f"knowledge base {knowledge_base_id} not found")
    return await get_knowledge_base(
        conn, organization_id=organization_id, knowledge_base_id=knowledge_base_id
    )


async def set_embedding_model(conn: Connection, *, knowledge_base_id: str, model: str) -> str:
    """The knowledge base's embedding model: `model` if it had none yet, else the one it has."""
    await conn.execute(
        sa.update(kb)
        .where(kb.c.id == knowledge_base_id, kb.c.embedding_model.is_(None))
        .values(embedding_model=model)
    )
    found = (
        await conn.execute(sa.select(kb.c.embedding_model).where(kb.c.id == knowledge_base_id))
    ).scalar_one_or_none()
    if found is None:
        raise errors.NotFound(f"knowledge base {knowledge_base_id} not found")
    return str(found)


async def delete_knowledge_base(
    conn: Connection, *, organization_id: str, knowledge_base_id: str
) -> None:
    # chunks first, one statement: their delete triggers keep the search indexes in step
    await conn.execute(
        sa.delete(chunk).where(
            chunk.c.knowledge_base_id == knowledge_base_id,
            chunk.c.organization_id == organization_id,
        )
    )
    await conn.execute(
        sa.delete(doc).where(
            doc.c.knowledge_base_id == knowledge_base_id, doc.c.organization_id == organization_id
        )
    )
    deleted = await conn.execute(
        sa.delete(kb).where(kb.c.id == knowledge_base_id, kb.c.organization_id == organization_id)
    )
    if deleted.rowcount == 0:
        raise errors.NotFound(f"knowledge base {knowledge_base_id} not found")


async def add_documents(conn: Connection, rows: list[dict[str, Any]]) -> list[DocumentRecord]:
    if rows:
        await conn.execute(sa.insert(doc), rows)
    return [DocumentRecord.from_row(row) for row in rows]


async def get_document(
    conn: Connection, *, organization_id: str, knowledge_base_id: str, document_id: str
) -> DocumentRecord:
    row = (
        (
            await conn.execute(
                sa.select(*_DOCUMENT_COLUMNS).where(
                    doc.c.id == document_id,
                    doc.c.knowledge_base_id == knowledge_base_id,
                    doc.c.organization_id == organization_id,
                    # the id is not public before the document is processed
                    doc.c.status != DocumentStatus.PENDING,
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise errors.NotFound(f"document {document_id} not found")
    return DocumentRecord.from_row(row)


async def list_documents(
    conn: Connection, *, organization_id: str, knowledge_base_id: str, offset: int, limit: int
) -> tuple[list[DocumentRecord], int]:
    mine = sa.and_(
        doc.c.knowledge_base_id == knowledge_base_id, doc.c.organization_id == organization_id
    )
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(doc).where(mine))
    ).scalar_one()
    rows = await conn.execute(
        sa.select(*_DOCUMENT_COLUMNS)
        .where(mine)
        .order_by(doc.c.created_at, doc.c.id)
        .offset(offset)
        .limit(limit)
    )
    return [DocumentRecord.from_row(r) for r in rows.mappings()], int(total)


async def documents_by_id(
    conn: Connection, *, organization_id: str, knowledge_base_id: str, ids: set[str]
) -> list[DocumentRecord]:
    """These documents, whatever their status, oldest first."""
    rows = await conn.execute(
        sa.select(*_DOCUMENT_COLUMNS)
        .where(
            doc.c.id.in_(sorted(ids)),
            doc.c.knowledge_base_id == knowledge_base_id,
            doc.c.organization_id == organization_id,
        )
        .order_by(doc.c.created_at, doc.c.id)
    )
    return [DocumentRecord.from_row(r) for r in rows.mappings()]


async def count_documents(conn: Connection, *, knowledge_base_ids: list[str]) -> dict[str, int]:
    if not knowledge_base_ids:
        return {}
    rows = await conn.execute(
        sa.select(doc.c.knowledge_base_id, sa.func.count().label("n"))
        .where(doc.c.knowledge_base_id.in_(knowledge_base_ids))
        .group_by(doc.c.knowledge_base_id)
    )
    return {str(row["knowledge_base_id"]): int(row["n"]) for row in rows.mappings()}


async def delete_document(
    conn: Connection, *, organization_id: str, knowledge_base_id: str, document_id: str
) -> None:
    await get_document(
        conn,
        organization_id=organization_id,
        knowledge_base_id=knowledge_base_id,
        document_id=document_id,
    )
    await conn.execute(sa.delete(chunk).where(chunk.c.document_id == document_id))
    await conn.execute(sa.delete(doc).where(doc.c.id == document_id))


async def claim_document(
    conn: Connection, *, worker_id: str, now: datetime, lease_for: timedelta, skip_locked: bool
) -> DocumentRecord | None:
    """Lease the oldest pending document nobody holds (or whose holder's lease ran out)."""
    free = sa.or_(doc.c.lease_expires_at.is_(None), doc.c.lease_expires_at < now)
    pick = (
        sa.select(doc.c.id)
        .where(doc.c.status == DocumentStatus.PENDING, free)
        .order_by(doc.c.created_at, doc.c.id)
        .limit(1)
    )
    if skip_locked:
        pick = pick.with_for_update(skip_locked=True)
    document_id = (await conn.execute(pick)).scalar_one_or_none()
    if document_id is None:
        return None
    await conn.execute(
        sa.update(doc)
        .where(doc.c.id == document_id)
        .values(
            lease_owner=worker_id, lease_expires_at=now + lease_for, attempts=doc.c.attempts + 1
        )
    )
    row = (
        (await conn.execute(sa.select(*_DOCUMENT_COLUMNS).where(doc.c.id == document_id)))
        .mappings()
        .one()
    )
    return DocumentRecord.from_row(row)


async def load_content(conn: Connection, *, document_id: str) -> bytes | None:
    found = (
        await conn.execute(sa.select(doc.c.content).where(doc.c.id == document_id))
    ).scalar_one_or_none()
    return None if found is None else bytes(found)


async def finish_document(
    conn: Connection,
    *,
    document_id: str,
    worker_id: str,
    status: DocumentStatus,
    chunk_count: int,
    error: str | None,
    now: datetime,
) -> bool:
    """End the claim: False when the lease was lost (another worker owns the document, or it
    was deleted); the caller's transaction must then be rolled back."""
    done = await conn.execute(
        sa.update(doc)
        .where(
            doc.c.id == document_id,
            doc.c.lease_owner == worker_id,
            doc.c.status == DocumentStatus.PENDING,
        )
        .values(
            status=status,
            chunk_count=chunk_count,
            error=error,
            content=None,  # the chunks hold the text now; the bytes are not kept
            lease_owner=None,
            lease_expires_at=None,
            processed_at=now,
        )
    )
    return done.rowcount == 1


async def record_error(conn: Connection, *, document_id: str, error: str) -> None:
    """Why the last try failed; the document stays pending for the next one."""
    await conn.execute(sa.update(doc).where(doc.c.id == document_id).values(error=error))


async def renew_lease(
    conn: Connection, *, document_id: str, worker_id: str, until: datetime
) -> None:
    await conn.execute(
        sa.update(doc)
        .where(doc.c.id == document_id, doc.c.lease_owner == worker_id)
        .values(lease_expires_at=until)
    )


async def insert_chunks(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert chunks; their ids, in the order of `rows`."""
    if not rows:
        return []
    inserted = await conn.execute(
        sa.insert(chunk).returning(chunk.c.id, sort_by_parameter_order=True), rows
    )
    return [int(chunk_id) for chunk_id in inserted.scalars()]
