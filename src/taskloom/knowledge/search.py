"""A query against knowledge bases: embed it, rank chunks by vector and by full text, fuse.

`mode` picks the rankings: `vector`, `fulltext`, `hybrid` (both, fused by reciprocal rank),
or `auto` (hybrid where the store keeps vectors, full text where it cannot). Scores: cosine
similarity for `vector`, the full-text engine's own score for `fulltext`, the fused score for
`hybrid`; higher is better in each.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import sqlalchemy as sa

from taskloom import errors
from taskloom.knowledge.embedders import Embedder
from taskloom.knowledge.fusion import fuse
from taskloom.knowledge.index import Hit, Index
from taskloom.llm.tools.knowledge import Passage
from taskloom.store import knowledge as store
from taskloom.store.database import Connection, Database
from taskloom.store.records import KnowledgeBaseRecord
from taskloom.store.tables import knowledge_chunks, knowledge_documents


class SearchMode(StrEnum):
    AUTO = "auto"
    HYBRID = "hybrid"
    VECTOR = "vector"
    FULLTEXT = "fulltext"


_CANDIDATES = 4  # each ranking brings top_k * this many candidates to the fusion
_MIN_CANDIDATES = 20


class KnowledgeSearch:
    def __init__(self, db: Database, index: Index, embedder: Embedder) -> None:
        self._db = db
        self._index = index
        self._embedder = embedder

    async def search(
        self,
        *,
        organization_id: str,
        knowledge_base_id: str,
        query: str,
        top_k: int,
        mode: SearchMode = SearchMode.AUTO,
    ) -> list[Passage]:
        async with self._db.read() as conn:
            base = await store.get_knowledge_base(
                conn, organization_id=organization_id, knowledge_base_id=knowledge_base_id
            )
        if mode is SearchMode.AUTO:
            mode = SearchMode.HYBRID if self._index.has_vectors else SearchMode.FULLTEXT
        vector = await self._query_vector(base, query, mode)
        wanted = max(top_k * _CANDIDATES, _MIN_CANDIDATES)
        async with self._db.read() as conn:
            rankings: list[list[Hit]] = []
            if vector is not None:
                rankings.append(
                    await self._index.vector_search(
                        conn, knowledge_base_id=base.id, vector=vector, limit=wanted
                    )
                )
            if mode is not SearchMode.VECTOR:
                rankings.append(
                    await self._index.text_search(
                        conn, knowledge_base_id=base.id, query=query, limit=wanted
                    )
                )
            if len(rankings) == 1:
                best = [(hit.chunk_id, hit.score) for hit in rankings[0][:top_k]]
            else:
                best = fuse([[hit.chunk_id for hit in r] for r in rankings])[:top_k]
            return await _passages(conn, organization_id, best)

    async def search_many(
        self,
        *,
        organization_id: str,
        knowledge_base_ids: Sequence[str],
        query: str,
        top_k: int,
    ) -> list[Passage]:
        found: list[Passage] = []
        for knowledge_base_id in knowledge_base_ids:
            found += await self.search(
                organization_id=organization_id,
                knowledge_base_id=knowledge_base_id,
                query=query,
                top_k=top_k,
            )
        return sorted(found, key=lambda passage: passage.score, reverse=True)[:top_k]

    async def _query_vector(
        self, base: KnowledgeBaseRecord, query: str, mode: SearchMode
    ) -> list[float] | None:
        if mode is SearchMode.FULLTEXT:
            return None
        self._index.check_vectors()
        if base.embedding_model is None:  # nothing ingested yet: nothing to compare with
            return None
        if base.embedding_model != self._embedder.model_id:
            raise errors.Conflict(
                f"knowledge base {base.id} was embedded with {base.embedding_model}, but this "
                f"server embeds with {self._embedder.model_id}: search it with mode=fulltext, "
                "or add its documents again to a new knowledge base"
            )
        return (await self._embedder.embed([query]))[0]


async def _passages(
    conn: Connection, organization_id: str, ranked: list[tuple[int, float]]
) -> list[Passage]:
    if not ranked:
        return []
    c, d = knowledge_chunks, knowledge_documents
    rows = await conn.execute(
        sa.select(
            c.c.id, c.c.knowledge_base_id, c.c.document_id, c.c.heading, c.c.content, d.c.name
        )
        .join(d, d.c.id == c.c.document_id)
        .where(c.c.id.in_([chunk_id for chunk_id, _ in ranked]))
        .where(c.c.organization_id == organization_id)
    )
    by_id = {int(row.id): row for row in rows}
    return [
        Passage(
            knowledge_base_id=row.knowledge_base_id,
            document_id=row.document_id,
            document_name=row.name,
            chunk_id=chunk_id,
            heading=row.heading,
            content=row.content,
            score=score,
        )
        for chunk_id, score in ranked
        if (row := by_id.get(chunk_id)) is not None
    ]
