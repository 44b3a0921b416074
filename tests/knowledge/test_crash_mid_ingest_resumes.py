"""A `kill -9` of `taskloom serve` in the middle of ingesting a document: after the restart
the document is ingested from the start, once: every chunk is there exactly one time, and it
is searchable."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from taskloom.store.database import Database
from taskloom.store.tables import knowledge_chunks, knowledge_documents
from tests.engine.crash.harness import Cluster, until
from tests.support.fake_embeddings import FakeEmbeddings

pytestmark = pytest.mark.crash

# long enough for several embedding batches of two chunks each
DOCUMENT = "\n\n".join(
    f"## Section {n}\n\nParagraph {n} tells about topic number {n} and nothing else."
    for n in range(1, 13)
)


def settings(embeddings: FakeEmbeddings) -> dict[str, str]:
    return {
        "knowledge_embedder": "openai",
        "knowledge_embeddings_base_url": embeddings.base_url,
        "knowledge_embeddings_model": "text-embedding-test",
        "knowledge_embed_batch": "2",
        "knowledge_lease_s": "2",  # a dead server's document comes back after this
        "knowledge_poll_s": "0.1",
        "egress_allowed_networks": '["127.0.0.0/8"]',
    }


async def test_crash_mid_ingest_resumes_and_writes_each_chunk_once(
    vector_store_url: str, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster = Cluster(vector_store_url, logs)
    try:
        with FakeEmbeddings() as embeddings:
            embeddings.hold_after(2)  # two batches embedded, the third held
            server, base = cluster.serve(**settings(embeddings))
            headers = {"x-api-key": cluster.key()}
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=15) as http:
                kb_id = (await http.post("/v1/knowledge", json={"name": "kb"})).json()["id"]
                added = await http.post(
                    f"/v1/knowledge/{kb_id}/documents",
                    files=[("file", ("topics.md", DOCUMENT.encode(), "text/markdown"))],
                )
                assert added.status_code == 201, added.text

            async def held() -> bool:
                return embeddings.held.is_set()

            await until(held, within_s=60, what="the ingestion is mid-way")
            server.kill()
            embeddings.release()
            _, base = cluster.serve(**settings(embeddings))
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=15) as http:

                async def ready() -> dict[str, object] | None:
                    listed = await http.get(f"/v1/knowledge/{kb_id}/documents")
                    [document] = listed.json()["items"]
                    return document if document["status"] != "pending" else None

                document = await until(ready, within_s=60, what="the document ingested")
                assert document["status"] == "ready", document
                assert document["chunk_count"] == 12
                found = await http.get(
                    f"/v1/knowledge/{kb_id}/search",
                    params={"search_query": "topic number 7", "mode": "vector", "top_k": 1},
                )
                assert "Paragraph 7 " in found.json()[0]["content"]
        async with Database(vector_store_url) as db, db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(knowledge_chunks.c.seq).where(
                        knowledge_chunks.c.document_id == document["id"]
                    )
                )
            ).all()
            attempts = (await conn.execute(sa.select(knowledge_documents.c.attempts))).scalar_one()
        assert sorted(seq for (seq,) in rows) == list(range(12))  # each chunk exactly once
        assert attempts == 2  # the killed one, then the one that finished
    finally:
        cluster.kill_all()
        cluster.print_log_tails()
