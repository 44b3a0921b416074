"""Vector and hybrid search on the stores that keep vectors (SQLite with sqlite-vec,
PostgreSQL with pgvector), embeddings from an OpenAI-compatible endpoint, and PostgreSQL
without pgvector saying how to enable it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
import sqlalchemy as sa

from taskloom.api.app import create_app
from taskloom.config import Settings
from taskloom.store.database import Database
from tests.conftest import new_key
from tests.conftest import test_settings as settings_for
from tests.knowledge.conftest import processed
from tests.knowledge.test_knowledge_api import HANDBOOK, new_kb, upload
from tests.support.databases import PG_ADMIN_URL, fresh_pg_database
from tests.support.fake_embeddings import FakeEmbeddings


async def app_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://taskloom") as client:
            yield client, {"x-api-key": await new_key(settings.database_url, "acme")}


@pytest.fixture
async def local(vector_store_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    async for pair in app_client(settings_for(vector_store_url, knowledge_poll_s=0.05)):
        yield pair


@pytest.fixture(scope="module")
def embeddings() -> Iterator[FakeEmbeddings]:
    with FakeEmbeddings() as server:
        yield server


@pytest.fixture
async def remote(
    vector_store_url: str, embeddings: FakeEmbeddings
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    settings = settings_for(
        vector_store_url,
        knowledge_poll_s=0.05,
        knowledge_embedder="openai",
        knowledge_embeddings_base_url=embeddings.base_url,
        knowledge_embeddings_model="text-embedding-test",
        knowledge_embeddings_api_key="sk-embeddings-test",
        knowledge_lease_s=0.5,  # a failed embedding is retried once its lease runs out
        egress_allowed_networks=["127.0.0.0/8"],
    )
    async for pair in app_client(settings):
        yield pair


async def search(
    client: httpx.AsyncClient, headers: dict[str, str], kb_id: str, query: str, mode: str
) -> list[dict[str, object]]:
    found = await client.get(
        f"/v1/knowledge/{kb_id}/search",
        params={"search_query": query, "top_k": 3, "mode": mode},
        headers=headers,
    )
    assert found.status_code == 200, found.text
    results: list[dict[str, object]] = found.json()
    return results


async def test_vector_and_hybrid_search_with_the_local_model(
    local: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, headers = local
    kb_id = await new_kb(client, headers)
    await upload(client, headers, kb_id, [("handbook.md", HANDBOOK.encode(), "text/markdown")])
    await processed(client, headers, kb_id, 1)
    got = await client.get(f"/v1/knowledge/{kb_id}", headers=headers)
    assert got.json()["embedding_model"] == "local:all-MiniLM-L6-v2-int8"
    # no word of this question is in the answer's chunk: only the vectors can find it
    vector = await search(client, headers, kb_id, "vacation allowance", "vector")
    assert "twenty-eight days" in str(vector[0]["content"])
    assert 0 < float(str(vector[0]["score"])) <= 1
    hybrid = await search(
        client, headers, kb_id, "when do I get my trip receipts reimbursed", "hybrid"
    )
    assert "refunded" in str(hybrid[0]["content"])


async def test_deleting_a_document_removes_its_vectors(
    local: tuple[httpx.AsyncClient, dict[str, str]], vector_store_url: str
) -> None:
    client, headers = local
    kb_id = await new_kb(client, headers)
    await upload(client, headers, kb_id, [("handbook.md", HANDBOOK.encode(), "text/markdown")])
    [document] = await processed(client, headers, kb_id, 1)
    table = (
        "knowledge_vectors_384" if vector_store_url.startswith("sqlite") else "knowledge_vectors"
    )
    assert await _count(vector_store_url, table) == document["chunk_count"] > 0
    await client.delete(f"/v1/knowledge/{kb_id}/documents/{document['id']}", headers=headers)
    assert await _count(vector_store_url, table) == 0
    assert await _count(vector_store_url, "knowledge_chunks") == 0
    assert await search(client, headers, kb_id, "vacation allowance", "vector") == []


async def _count(url: str, table: str) -> int:
    async with Database(url) as db, db.read() as conn:
        return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_embeddings_from_an_openai_compatible_endpoint(
    remote: tuple[httpx.AsyncClient, dict[str, str]], embeddings: FakeEmbeddings
) -> None:
    client, headers = remote
    embeddings.requests.clear()
    embeddings.headers.clear()
    kb_id = await new_kb(client, headers)
    await upload(client, headers, kb_id, [("handbook.md", HANDBOOK.encode(), "text/markdown")])
    await processed(client, headers, kb_id, 1)
    assert embeddings.requests[0]["model"] == "text-embedding-test"
    assert embeddings.headers[0]["authorization"] == "Bearer sk-embeddings-test"
    found = await search(client, headers, kb_id, "receipts finance portal", "vector")
    assert "receipts are uploaded" in str(found[0]["content"])
    # the query went through the same endpoint
    assert embeddings.requests[-1]["input"] == ["receipts finance portal"]
    got = await client.get(f"/v1/knowledge/{kb_id}", headers=headers)
    assert got.json()["embedding_model"] == "openai:text-embedding-test"


async def test_a_failed_embedding_is_retried(
    remote: tuple[httpx.AsyncClient, dict[str, str]], embeddings: FakeEmbeddings
) -> None:
    client, headers = remote
    embeddings.fail_next = 1
    kb_id = await new_kb(client, headers)
    await upload(client, headers, kb_id, [("handbook.md", HANDBOOK.encode(), "text/markdown")])
    [document] = await processed(client, headers, kb_id, 1)
    assert document["status"] == "ready"
    assert embeddings.fail_next == 0


async def test_vector_search_on_postgres_without_pgvector_says_how_to_enable() -> None:
    admin = await asyncpg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + "/postgres")
    try:
        available = await admin.fetchval(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"
        )
    finally:
        await admin.close()
    if available:
        pytest.skip("this PostgreSQL has pgvector; the test needs one without it")
    url = await fresh_pg_database()
    async for client, headers in app_client(settings_for(url, knowledge_poll_s=0.05)):
        kb_id = await new_kb(client, headers)
        await upload(client, headers, kb_id, [("handbook.md", HANDBOOK.encode(), "text/markdown")])
        [document] = await processed(client, headers, kb_id, 1)
        assert document["status"] == "ready"
        for mode in ("vector", "hybrid"):
            refused = await client.get(
                f"/v1/knowledge/{kb_id}/search",
                params={"search_query": "holiday", "mode": mode},
                headers=headers,
            )
            assert refused.status_code == 409, refused.text
            assert "CREATE EXTENSION vector" in refused.json()["detail"]
        # full text still answers, and is what `auto` uses here
        for mode in ("fulltext", "auto"):
            found = await search(client, headers, kb_id, "paid holiday", mode)
            assert "twenty-eight days" in str(found[0]["content"])
