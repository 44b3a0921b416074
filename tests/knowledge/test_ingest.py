"""The ingestion worker on its own, on both stores, with a manual clock: leases, retries, and
giving up on a document that never gets through."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest
import sqlalchemy as sa

from taskloom.clock import ManualClock
from taskloom.config import EgressConfig, KnowledgeConfig
from taskloom.knowledge.index import Index
from taskloom.knowledge.ingest import Ingestor
from taskloom.llm.tools.http_client import SharedHttpClient
from taskloom.store import knowledge as store
from taskloom.store.database import Database
from taskloom.store.migrate import upgrade
from taskloom.store.records import DocumentStatus
from taskloom.store.tables import knowledge_documents

LEASE_S = 10.0


class BrokenEmbedder:
    """An embedder whose model crashes: not an error taskloom expects."""

    calls = 0

    @property
    def model_id(self) -> str:
        return "broken"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        raise RuntimeError("the model crashed")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with Database(database_url) as opened:
        await upgrade(opened)
        yield opened


@pytest.fixture
async def vector_db(vector_store_url: str) -> AsyncIterator[Database]:
    """A store that keeps vectors, so that ingestion embeds (SQLite, or pgvector)."""
    async with Database(vector_store_url) as opened:
        await upgrade(opened)
        yield opened


async def add_document(db: Database, clock: ManualClock) -> str:
    now = clock.now()
    async with db.write() as conn:
        await store.create_knowledge_base(
            conn,
            {
                "id": "kb-1",
                "organization_id": "org-1",
                "name": "kb",
                "description": None,
                "type": "managed",
                "agent_id": None,
                "embedding_model": None,
                "created_at": now,
                "updated_at": now,
            },
        )
        await store.add_documents(
            conn,
            [
                {
                    "id": "doc-1",
                    "knowledge_base_id": "kb-1",
                    "organization_id": "org-1",
                    "name": "a.md",
                    "document_url": None,
                    "content_type": "text/markdown",
                    "content": b"# Title\n\nSome text to index.",
                    "status": "pending",
                    "error": None,
                    "attempts": 0,
                    "lease_owner": None,
                    "lease_expires_at": None,
                    "chunk_count": 0,
                    "created_at": now,
                    "processed_at": None,
                }
            ],
        )
    return "doc-1"


async def document_row(db: Database) -> dict[str, object]:
    async with db.read() as conn:
        row = (await conn.execute(sa.select(knowledge_documents))).mappings().one()
    return dict(row)


async def test_a_crashing_embedder_is_retried_after_the_lease_then_fails(
    vector_db: Database,
) -> None:
    db = vector_db
    clock = ManualClock()
    await add_document(db, clock)
    index = Index(db)
    await index.prepare()
    embedder = BrokenEmbedder()
    http = SharedHttpClient(EgressConfig())
    config = KnowledgeConfig(lease_s=LEASE_S, max_attempts=2)
    ingestor = Ingestor(db, index, embedder, http, config, clock)
    assert index.has_vectors
    assert await ingestor.ingest_once()
    row = await document_row(db)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "the model crashed" in str(row["error"])
    # leased: nobody takes it again before the lease runs out
    assert not await ingestor.ingest_once()
    await clock.advance(LEASE_S + 1)
    assert await ingestor.ingest_once()
    row = await document_row(db)
    assert (row["status"], row["attempts"]) == ("failed", 2)
    assert embedder.calls == 2
    assert not await ingestor.ingest_once()
    await http.aclose()


async def test_a_document_whose_tries_never_finish_fails(db: Database) -> None:
    clock = ManualClock()
    await add_document(db, clock)
    config = KnowledgeConfig(lease_s=LEASE_S, max_attempts=2)
    # two workers that claimed it and died (their leases simply run out)
    for _ in range(2):
        async with db.write() as conn:
            claimed = await store.claim_document(
                conn,
                worker_id="dead",
                now=clock.now(),
                lease_for=timedelta(seconds=LEASE_S),
                skip_locked=False,
            )
        assert claimed is not None
        await clock.advance(LEASE_S + 1)
    http = SharedHttpClient(EgressConfig())
    ingestor = Ingestor(db, Index(db), BrokenEmbedder(), http, config, clock)
    assert await ingestor.ingest_once()
    row = await document_row(db)
    assert row["status"] == DocumentStatus.FAILED
    assert row["error"] == "not ingested after 2 tries"
    await http.aclose()
