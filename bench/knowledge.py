"""Knowledge bases: ingestion rate, search latency at 100,000 chunks, and retrieval quality.

    .venv/bin/python bench/knowledge.py                  # SQLite and PostgreSQL (pgvector)
    .venv/bin/python bench/knowledge.py --stores sqlite --chunks 20000

Runs taskloom's own parts in this process (store, index, embedder, ingestion worker, search):
no HTTP, so the figures are the knowledge code's. PostgreSQL is the `pgserver` wheel's server
(it has pgvector; the machine's PostgreSQL may not).

1. Retrieval quality: recall@10 for vector-only, full-text-only and hybrid search, on the Lee
   corpus (Lee, Pincombe & Welsh, 2005: 50 news documents, every pair rated for similarity by
   people; 300 more from the same source as distractors), which ships in gensim's wheel (read
   from the wheel; gensim itself is not installed). Each of the 50 documents is a query; the
   relevant documents are the other ones people rated at least 0.5 (3 on their 1-5 scale).
   Nobody wrote these queries or labels looking at taskloom.
2. Ingestion: those 350 documents through the real ingestion path (chunk, embed with the local
   model, index), as chunks per second; then the bulk write rate of chunks with their vectors.
3. Search latency at `--chunks` chunks in one knowledge base: p50 and p99 of a search as the
   API runs it (query embedded by the local model, then the store's searches).

The 100,000 filler chunks are sentences of the same corpus recombined, and their vectors are
real embeddings of 500 of them, reused with a little noise: embedding 100,000 chunks with the
local model on one core would take over an hour, and both stores search vectors exactly (by
brute force), so the time does not depend on what the vectors are.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from taskloom.clock import SystemClock
from taskloom.config import EgressConfig, KnowledgeConfig
from taskloom.knowledge.index import Index
from taskloom.knowledge.ingest import Ingestor
from taskloom.knowledge.local_model import LocalEmbedder
from taskloom.knowledge.search import KnowledgeSearch, SearchMode
from taskloom.llm.tools.http_client import SharedHttpClient
from taskloom.store import knowledge as store
from taskloom.store.database import Database
from taskloom.store.migrate import upgrade
from taskloom.store.records import DocumentStatus

GENSIM = "gensim==4.4.0"
CACHE = Path(__file__).parent / ".cache"
RESULTS = Path(__file__).parent / "results"
RELEVANT_AT = 0.5
ORG = "bench-org"


def lee_corpus() -> tuple[list[str], list[str], list[list[float]]]:
    """(the 50 rated documents, the 300 background ones, the 50x50 similarity matrix)."""
    CACHE.mkdir(exist_ok=True)
    wheels = list(CACHE.glob("gensim-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(CACHE), GENSIM],
            check=True,
        )
        wheels = list(CACHE.glob("gensim-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        data = "gensim/test/test_data/"
        rated = wheel.read(data + "lee.cor").decode("latin-1").splitlines()
        background = wheel.read(data + "lee_background.cor").decode("latin-1").splitlines()
        matrix = [
            [float(x) for x in line.split()]
            for line in wheel.read(data + "similarities0-1.txt").decode().splitlines()
        ]
    rated = [line.strip() for line in rated if line.strip()]
    background = [line.strip() for line in background if line.strip()]
    # the file holds the upper triangle: mirror it
    for i in range(len(matrix)):
        for j in range(i):
            matrix[i][j] = matrix[j][i]
    return rated, background, matrix


async def open_store(kind: str, pg_dir: str | None) -> tuple[Database, str]:
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="kbench-")) / "bench.db"
        url = f"sqlite:///{path}"
    else:
        import asyncpg

        name = f"kbench_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(host=pg_dir, user="postgres", database="postgres")
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = f"postgresql://postgres@/{name}?host={pg_dir}"
    db = Database(url)
    await upgrade(db)
    return db, url


async def new_kb(db: Database, name: str) -> str:
    kb_id = str(uuid.uuid4())
    now = SystemClock().now()
    async with db.write() as conn:
        await store.create_knowledge_base(
            conn,
            {
                "id": kb_id,
                "organization_id": ORG,
                "name": name,
                "description": None,
                "type": "managed",
                "agent_id": None,
                "embedding_model": None,
                "created_at": now,
                "updated_at": now,
            },
        )
    return kb_id


def document_row(kb_id: str, name: str, text: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "knowledge_base_id": kb_id,
        "organization_id": ORG,
        "name": name,
        "document_url": None,
        "content_type": "text/plain",
        "content": text.encode(),
        "status": DocumentStatus.PENDING,
        "error": None,
        "attempts": 0,
        "lease_owner": None,
        "lease_expires_at": None,
        "chunk_count": 0,
        "created_at": SystemClock().now(),
        "processed_at": None,
    }


async def ingest_corpus(
    db: Database, index: Index, embedder: LocalEmbedder, docs: list[str], names: list[str]
) -> tuple[str, dict[str, str], float, int]:
    """All documents through the ingestion worker; (kb, chunk doc id -> name, chunks/s, n)."""
    kb_id = await new_kb(db, "lee")
    rows = [document_row(kb_id, name, text) for name, text in zip(names, docs, strict=True)]
    async with db.write() as conn:
        await store.add_documents(conn, rows)
    http = SharedHttpClient(EgressConfig())
    ingestor = Ingestor(db, index, embedder, http, KnowledgeConfig(), SystemClock())
    started = time.perf_counter()
    while await ingestor.ingest_once():
        pass
    elapsed = time.perf_counter() - started
    await http.aclose()
    async with db.read() as conn:
        chunks = (await conn.execute(sa.text("SELECT count(*) FROM knowledge_chunks"))).scalar_one()
        failed = (
            await conn.execute(
                sa.text("SELECT count(*) FROM knowledge_documents WHERE status != 'ready'")
            )
        ).scalar_one()
    if failed:
        raise RuntimeError(f"{failed} documents were not ingested")
    names_by_id = {row["id"]: row["name"] for row in rows}
    return kb_id, names_by_id, int(chunks) / elapsed, int(chunks)


async def recall(
    search: KnowledgeSearch,
    kb_id: str,
    rated: list[str],
    matrix: list[list[float]],
    names_by_id: dict[str, str],
    mode: SearchMode,
) -> tuple[float, int]:
    """Mean recall@10 over the queries that have relevant documents, and their number."""
    scores = []
    for q, text in enumerate(rated):
        relevant = {f"lee-{d}" for d in range(len(rated)) if d != q and matrix[q][d] >= RELEVANT_AT}
        if not relevant:
            continue
        passages = await search.search(
            organization_id=ORG, knowledge_base_id=kb_id, query=text[:2000], top_k=50, mode=mode
        )
        ranked: list[str] = []
        for passage in passages:
            name = names_by_id[passage.document_id]
            if name != f"lee-{q}" and name not in ranked:
                ranked.append(name)
        scores.append(len(relevant & set(ranked[:10])) / len(relevant))
    return statistics.fmean(scores), len(scores)


def filler_texts(sentences: list[str], count: int, rng: random.Random) -> list[str]:
    return [" ".join(rng.sample(sentences, 6)) for _ in range(count)]


async def fill(
    db: Database,
    index: Index,
    kb_id: str,
    texts: list[str],
    vectors: list[list[float]],
    rng: random.Random,
) -> float:
    """`texts` as chunks of one document with noisy copies of `vectors`; chunks/s written."""
    doc = document_row(kb_id, "filler", "")
    doc |= {"status": DocumentStatus.READY, "content": None}
    async with db.write() as conn:
        await store.add_documents(conn, [doc])
        await store.set_embedding_model(
            conn, knowledge_base_id=kb_id, model=LocalEmbedder().model_id
        )
    started = time.perf_counter()
    batch = 1000
    for start in range(0, len(texts), batch):
        part = texts[start : start + batch]
        vecs = []
        for _ in part:
            base = vectors[rng.randrange(len(vectors))]
            noisy = [x + rng.gauss(0, 0.02) for x in base]
            norm = sum(x * x for x in noisy) ** 0.5
            vecs.append([x / norm for x in noisy])
        async with db.write() as conn:
            ids = await store.insert_chunks(
                conn,
                [
                    {
                        "document_id": doc["id"],
                        "knowledge_base_id": kb_id,
                        "organization_id": ORG,
                        "seq": start + i,
                        "heading": "",
                        "content": t,
                    }
                    for i, t in enumerate(part)
                ],
            )
            await index.add_vectors(conn, knowledge_base_id=kb_id, chunk_ids=ids, vectors=vecs)
    return len(texts) / (time.perf_counter() - started)


async def latency(
    search: KnowledgeSearch, kb_id: str, queries: list[str], mode: SearchMode
) -> dict[str, float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        await search.search(
            organization_id=ORG, knowledge_base_id=kb_id, query=query, top_k=10, mode=mode
        )
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50_ms": round(times[len(times) // 2], 1),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 1),
    }


async def run_store(kind: str, pg_dir: str | None, args: argparse.Namespace) -> dict[str, Any]:
    rated, background, matrix = lee_corpus()
    db, _url = await open_store(kind, pg_dir)
    index = Index(db)
    await index.prepare()
    embedder = LocalEmbedder(threads=1)
    search = KnowledgeSearch(db, index, embedder)
    out: dict[str, Any] = {"store": kind}
    try:
        names = [f"lee-{i}" for i in range(len(rated))] + [
            f"background-{i}" for i in range(len(background))
        ]
        kb_id, names_by_id, rate, chunks = await ingest_corpus(
            db, index, embedder, rated + background, names
        )
        out["ingest"] = {"documents": len(names), "chunks": chunks, "chunks_per_s": round(rate, 1)}
        print(f"[{kind}] ingested {chunks} chunks at {rate:.1f} chunks/s", flush=True)
        out["recall_at_10"] = {}
        for mode in (SearchMode.VECTOR, SearchMode.FULLTEXT, SearchMode.HYBRID):
            value, queries = await recall(search, kb_id, rated, matrix, names_by_id, mode)
            out["recall_at_10"][mode.value] = round(value, 3)
            out["recall_queries"] = queries
            print(f"[{kind}] recall@10 {mode.value}: {value:.3f} ({queries} queries)", flush=True)

        rng = random.Random(7)
        sentences = [s.strip() for d in rated + background for s in d.split(". ") if len(s) > 40]
        pool_texts = filler_texts(sentences, args.pool, rng)
        t0 = time.perf_counter()
        pool = await embedder.embed(pool_texts)
        print(
            f"[{kind}] embedded a pool of {len(pool)} in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        big = await new_kb(db, "big")
        written = await fill(db, index, big, filler_texts(sentences, args.chunks, rng), pool, rng)
        out["bulk_write_chunks_per_s"] = round(written, 1)
        print(f"[{kind}] wrote {args.chunks} chunks at {written:.0f} chunks/s", flush=True)
        queries = [d.split(". ")[0][:300] for d in rated] * 2
        out["search_latency"] = {"chunks": args.chunks, "queries": len(queries)}
        for mode in (SearchMode.VECTOR, SearchMode.FULLTEXT, SearchMode.HYBRID):
            figures = await latency(search, big, queries, mode)
            out["search_latency"][mode.value] = figures
            print(f"[{kind}] search {mode.value} at {args.chunks}: {figures}", flush=True)
        embed = await latency_of_embedding(embedder, queries)
        out["search_latency"]["query_embedding"] = embed
    finally:
        await db.close()
    return out


async def latency_of_embedding(embedder: LocalEmbedder, queries: list[str]) -> dict[str, float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        await embedder.embed([query])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(times[len(times) // 2], 1), "p99_ms": round(times[-2], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--pool", type=int, default=500)
    args = parser.parse_args()
    # the commit the run's code comes from: read before it starts
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    results = []
    server = None
    pg_dir = None
    if "postgres" in args.stores:
        import pgserver

        pg_dir = tempfile.mkdtemp(prefix="kbpg-")
        server = pgserver.get_server(pg_dir, cleanup_mode="stop")
    try:
        for kind in args.stores.split(","):
            results.append(asyncio.run(run_store(kind, pg_dir, args)))
    finally:
        if server is not None:
            server.cleanup()
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    report = {"commit": commit, "load": list(__import__("os").getloadavg()), "results": results}
    (RESULTS / f"{stamp}-knowledge.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
