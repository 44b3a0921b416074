"""Where chunks' vectors and text are searched, per store.

SQLite: vectors in a sqlite-vec `vec0` table per dimension (the knowledge base is its
partition key, so a search scans that knowledge base's vectors only), full text in the FTS5
table of migration 0010 (BM25). PostgreSQL: vectors in a pgvector table (exact cosine
distance over the knowledge base's rows), full text in the stored `tsv` column of migration
0010 and its GIN index (`ts_rank`). Both searches are exact: no approximate index to tune, and
recall does not depend on one.

A PostgreSQL without pgvector still serves full-text search; a vector search there raises
`VectorSearchUnavailable`, whose message says how to enable it.
"""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection, Database

logger = logging.getLogger(__name__)

_MAX_QUERY_WORDS = 64

ENABLE_PGVECTOR = (
    "vector search needs the pgvector extension in this PostgreSQL database: install pgvector "
    "on the database server (a package such as postgresql-15-pgvector), run "
    "`CREATE EXTENSION vector;` in the database as a superuser, then restart taskloom and add "
    "the documents again (documents added before are searchable by full text only). "
    "Full-text search works meanwhile: mode=fulltext"
)


class VectorSearchUnavailable(errors.Conflict):
    """The store cannot search vectors (PostgreSQL without pgvector)."""


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: int
    score: float  # higher is better: cosine similarity, or the full-text engine's own score


# words too common to tell chunks apart: OR-ed into a query, each would match most chunks and
# make the engine score nearly all of them (PostgreSQL's `english` drops them itself)
_STOPWORDS_TEXT = (
    "a about above after again against all am an and any are as at be because been before "
    "being below between both but by can could did do does doing down during each few for "
    "from further had has have having he her here hers herself him himself his how i if in "
    "into is it its itself just me more most my myself no nor not now of off on once only or "
    "other our ours ourselves out over own same she should so some such than that the their "
    "theirs them themselves then there these they this those through to too under until up "
    "very was we were what when where which while who whom why will with would you your yours "
    "yourself yourselves"
)
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def query_words(text: str) -> list[str]:
    """The words of a search, without stopwords or repeats: letters and digits only, so no
    query syntax gets through. A query of stopwords only keeps them."""
    words = list(dict.fromkeys(re.findall(r"\w+", text.lower())))
    telling = [word for word in words if word not in _STOPWORDS]
    return (telling or words)[:_MAX_QUERY_WORDS]


class Index:
    """The index of one store. `prepare` (at start) finds out whether vectors can be kept."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sqlite = db.is_sqlite
        self._has_vectors = self._sqlite
        self._dimensions: set[int] = set()

    @property
    def has_vectors(self) -> bool:
        return self._has_vectors

    async def prepare(self) -> None:
        if self._sqlite:
            return
        self._has_vectors = await _pgvector(self._db)

    def check_vectors(self) -> None:
        if not self._has_vectors:
            raise VectorSearchUnavailable(ENABLE_PGVECTOR)

    async def add_vectors(
        self,
        conn: Connection,
        *,
        knowledge_base_id: str,
        chunk_ids: Sequence[int],
        vectors: Sequence[Sequence[float]],
    ) -> None:
        if not chunk_ids:
            return
        self.check_vectors()
        dimension = len(vectors[0])
        await self._ensure_table(conn, dimension)
        if self._sqlite:
            await conn.execute(
                sa.text(
                    f"INSERT INTO knowledge_vectors_{dimension}"
                    "(chunk_id, knowledge_base_id, embedding) VALUES (:id, :kb, :v)"
                ),
                [
                    {"id": cid, "kb": knowledge_base_id, "v": _f32(v)}
                    for cid, v in zip(chunk_ids, vectors, strict=True)
                ],
            )
        else:
            await conn.execute(
                sa.text(
                    "INSERT INTO knowledge_vectors(chunk_id, knowledge_base_id, embedding) "
                    "VALUES (:id, :kb, CAST(:v AS vector))"
                ),
                [
                    {"id": cid, "kb": knowledge_base_id, "v": _literal(v)}
                    for cid, v in zip(chunk_ids, vectors, strict=True)
                ],
            )

    async def vector_search(
        self, conn: Connection, *, knowledge_base_id: str, vector: Sequence[float], limit: int
    ) -> list[Hit]:
        self.check_vectors()
        dimension = len(vector)
        if self._sqlite:
            if not await self._sqlite_table_exists(conn, dimension):
                return []
            rows = await conn.execute(
                sa.text(
                    f"SELECT chunk_id, distance FROM knowledge_vectors_{dimension} "
                    "WHERE embedding MATCH :v AND k = :k AND knowledge_base_id = :kb "
                    "ORDER BY distance"
                ),
                {"v": _f32(vector), "k": limit, "kb": knowledge_base_id},
            )
        else:
            rows = await conn.execute(
                sa.text(
                    "SELECT chunk_id, embedding <=> CAST(:v AS vector) AS distance "
                    "FROM knowledge_vectors WHERE knowledge_base_id = :kb "
                    "ORDER BY distance LIMIT :k"
                ),
                {"v": _literal(vector), "k": limit, "kb": knowledge_base_id},
            )
        return [Hit(int(r["chunk_id"]), 1.0 - float(r["distance"])) for r in rows.mappings()]

    async def text_search(
        self, conn: Connection, *, knowledge_base_id: str, query: str, limit: int
    ) -> list[Hit]:
        words = query_words(query)
        if not words:
            return []
        if self._sqlite:
            # the knowledge base is a column of the index: FTS5 intersects it with the words,
            # with no join; bm25's weights leave it out of the score
            terms = " OR ".join(f'"{word}"' for word in words)
            match = (
                f'knowledge_base_id : "{_token(knowledge_base_id)}" '
                f"AND {{heading content}} : ({terms})"
            )
            rows = await conn.execute(
                sa.text(
                    "SELECT rowid AS id, bm25(knowledge_chunks_fts, 1.0, 1.0, 0.0) AS rank "
                    "FROM knowledge_chunks_fts WHERE knowledge_chunks_fts MATCH :q "
                    "ORDER BY rank LIMIT :k"
                ),
                {"q": match, "k": limit},
            )
            # bm25(): lower is better
            return [Hit(int(r["id"]), -float(r["rank"])) for r in rows.mappings()]
        rows = await conn.execute(
            sa.text(
                # normalization 1: divided by 1 + log(length), so long chunks do not win
                # for containing more words
                "SELECT id, ts_rank(tsv, q, 1) AS rank "
                "FROM knowledge_chunks, to_tsquery('english', :q) q "
                "WHERE knowledge_base_id = :kb AND tsv @@ q "
                "ORDER BY rank DESC, id LIMIT :k"
            ),
            {"q": " | ".join(words), "kb": knowledge_base_id, "k": limit},
        )
        return [Hit(int(r["id"]), float(r["rank"])) for r in rows.mappings()]

    async def _ensure_table(self, conn: Connection, dimension: int) -> None:
        if dimension in self._dimensions:
            return
        if self._sqlite:
            # a vec0 table has no foreign keys: a trigger drops a chunk's vector with it
            await conn.execute(
                sa.text(
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_vectors_{dimension} USING vec0("
                    "chunk_id integer primary key, knowledge_base_id text partition key, "
                    f"embedding float[{dimension}] distance_metric=cosine)"
                )
            )
            await conn.execute(
                sa.text(
                    f"CREATE TRIGGER IF NOT EXISTS knowledge_vectors_{dimension}_delete "
                    "AFTER DELETE ON knowledge_chunks BEGIN "
                    f"DELETE FROM knowledge_vectors_{dimension} WHERE chunk_id = old.id; END"
                )
            )
        else:
            await conn.execute(
                sa.text(
                    "CREATE TABLE IF NOT EXISTS knowledge_vectors ("
                    "chunk_id integer PRIMARY KEY "
                    "REFERENCES knowledge_chunks(id) ON DELETE CASCADE, "
                    "knowledge_base_id varchar(64) NOT NULL, embedding vector NOT NULL)"
                )
            )
            await conn.execute(
                sa.text(
                    "CREATE INDEX IF NOT EXISTS ix_knowledge_vectors_kb "
                    "ON knowledge_vectors (knowledge_base_id)"
                )
            )
        self._dimensions.add(dimension)

    async def _sqlite_table_exists(self, conn: Connection, dimension: int) -> bool:
        if dimension in self._dimensions:
            return True
        found = await conn.execute(
            sa.text("SELECT 1 FROM sqlite_master WHERE name = :name"),
            {"name": f"knowledge_vectors_{dimension}"},
        )
        return found.first() is not None


async def _pgvector(db: Database) -> bool:
    """Whether pgvector is in the database; created when the server has it and we may."""
    async with db.read() as conn:
        present = await conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname='vector'"))
        if present.first() is not None:
            return True
        available = await conn.execute(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        )
        if available.first() is None:
            logger.warning(
                "pgvector is not installed: knowledge search is full-text only",
                extra={"event": "pgvector_missing"},
            )
            return False
    try:
        async with db.write() as conn:
            await conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
    except errors.TaskloomError:
        logger.warning(
            "pgvector is installed but could not be enabled: knowledge search is full-text only",
            exc_info=True,
            extra={"event": "pgvector_not_enabled"},
        )
        return False
    return True


def _token(knowledge_base_id: str) -> str:
    """The id as FTS5 indexes it: its letters and digits (the tokenizer splits at the rest)."""
    return " ".join(re.findall(r"\w+", knowledge_base_id.lower()))


def _f32(vector: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def _literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"
