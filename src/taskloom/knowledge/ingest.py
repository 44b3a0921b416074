"""Ingestion: the durable background work that turns a pending document into indexed chunks.

`ingest_once` claims one document (a lease in the store), reads it (the uploaded bytes, or
its URL fetched under the egress rules), cuts it into chunks, embeds them (renewing the lease
after each batch) and writes chunks, vectors and the `ready` status in one transaction. A
worker killed anywhere in between leaves the document pending with a lease that runs out; the
next claim starts over, and since nothing was committed, no chunk is ever there twice.

A document that cannot be read fails at once (reading it again gives the same answer); a
fetch or an embedding that fails is tried again after its lease ran out, `max_attempts`
times in all.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from taskloom import errors
from taskloom.clock import Clock
from taskloom.config import KnowledgeConfig
from taskloom.knowledge.chunking import Chunk, chunk_text
from taskloom.knowledge.embedders import Embedder, EmbeddingFailed
from taskloom.knowledge.extract import UnreadableDocument, extract_text
from taskloom.knowledge.index import Index
from taskloom.llm.egress import check_scheme
from taskloom.llm.errors import EgressRefused
from taskloom.store import knowledge as store
from taskloom.store.database import Connection, Database
from taskloom.store.records import DocumentRecord, DocumentStatus

if TYPE_CHECKING:
    from taskloom.llm.tools.http_client import SharedHttpClient

logger = logging.getLogger(__name__)


class FetchFailed(errors.TaskloomError):
    """A document's URL could not be fetched now (refused, unreachable, not 2xx)."""


class Ingestor:
    def __init__(
        self,
        db: Database,
        index: Index,
        embedder: Embedder,
        http: SharedHttpClient,
        config: KnowledgeConfig,
        clock: Clock,
    ) -> None:
        self._db = db
        self._index = index
        self._embedder = embedder
        self._http = http
        self._config = config
        self._clock = clock
        self.worker_id = f"ingest-{uuid.uuid4().hex[:12]}"
        self._lease = timedelta(seconds=config.lease_s)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A document was added in this process: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            if await self.ingest_once():
                continue
            await self._clock.wait(self._wake, self._config.poll_s)

    async def ingest_once(self) -> bool:
        """Claim and process one document; False when none was waiting."""
        async with self._db.write() as conn:
            document = await store.claim_document(
                conn,
                worker_id=self.worker_id,
                now=self._clock.now(),
                lease_for=self._lease,
                skip_locked=not self._db.is_sqlite,
            )
        if document is None:
            return False
        if document.attempts > self._config.max_attempts:
            # its earlier tries never finished (each killed its worker, say): stop trying
            await self._finish(
                document,
                DocumentStatus.FAILED,
                [],
                [],
                error=document.error or f"not ingested after {self._config.max_attempts} tries",
            )
            return True
        logger.info(
            "ingesting document",
            extra={
                "event": "knowledge_ingest",
                "document_id": document.id,
                "attempt": document.attempts,
            },
        )
        try:
            await self._process(document)
        except (FetchFailed, EmbeddingFailed, errors.StoreUnavailable) as exc:
            await self._retry_later(document, str(exc))
        except (UnreadableDocument, EgressRefused) as exc:
            await self._finish(document, DocumentStatus.FAILED, [], [], error=str(exc))
        except Exception as exc:
            # the ingestion loop's boundary, as the task executor's: record, keep the worker
            logger.exception(
                "ingestion failed",
                extra={"event": "knowledge_ingest_failed", "document_id": document.id},
            )
            await self._retry_later(document, errors.describe(exc))
        return True

    async def _process(self, document: DocumentRecord) -> None:
        data = await self._read(document)
        chunks = await asyncio.to_thread(self._chunks, data, document)
        vectors: list[list[float]] = []
        if self._index.has_vectors:
            batch = self._config.embed_batch
            for start in range(0, len(chunks), batch):
                vectors += await self._embedder.embed(
                    [_embedded_text(c) for c in chunks[start : start + batch]]
                )
                await self._renew(document)
        await self._finish(document, DocumentStatus.READY, chunks, vectors, error=None)

    def _chunks(self, data: bytes, document: DocumentRecord) -> list[Chunk]:
        # PostgreSQL text cannot hold NUL; a stray one in a document means nothing anyway
        text = extract_text(data, name=document.name, content_type=document.content_type)
        text = text.replace("\x00", "")
        chunks = chunk_text(
            text, size_chars=self._config.chunk_chars, overlap_chars=self._config.overlap_chars
        )
        limit = self._config.max_chunks_per_document
        if len(chunks) > limit:
            raise UnreadableDocument(
                f"{document.name!r} makes {len(chunks)} chunks, more than the {limit} allowed"
            )
        return chunks

    async def _read(self, document: DocumentRecord) -> bytes:
        if document.document_url is None:
            async with self._db.read() as conn:
                data = await store.load_content(conn, document_id=document.id)
            return data or b""
        return await self._fetch(document.document_url)

    async def _fetch(self, url: str) -> bytes:
        import httpx2

        check_scheme(url)
        limit = self._config.max_file_bytes
        client = self._http.get()
        try:
            async with asyncio.timeout(self._config.fetch_timeout_s):
                request = client.build_request("GET", url, timeout=self._config.fetch_timeout_s)
                response = await client.send(request, stream=True, follow_redirects=False)
                try:
                    if not response.is_success:
                        raise FetchFailed(f"fetching the document answered {response.status_code}")
                    received = bytearray()
                    async for piece in response.aiter_bytes():
                        received += piece
                        if len(received) > limit:
                            raise UnreadableDocument(f"the document is larger than {limit} bytes")
                    return bytes(received)
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            raise FetchFailed("fetching the document timed out") from exc
        except httpx2.HTTPError as exc:
            raise FetchFailed(f"fetching the document failed: {type(exc).__name__}") from exc

    async def _renew(self, document: DocumentRecord) -> None:
        async with self._db.write() as conn:
            await store.renew_lease(
                conn,
                document_id=document.id,
                worker_id=self.worker_id,
                until=self._clock.now() + self._lease,
            )

    async def _finish(
        self,
        document: DocumentRecord,
        status: DocumentStatus,
        chunks: list[Chunk],
        vectors: list[list[float]],
        *,
        error: str | None,
    ) -> None:
        try:
            async with self._db.write() as conn:
                if chunks:
                    await self._write_chunks(conn, document, chunks, vectors)
                finished = await store.finish_document(
                    conn,
                    document_id=document.id,
                    worker_id=self.worker_id,
                    status=status,
                    chunk_count=len(chunks),
                    error=error,
                    now=self._clock.now(),
                )
                if not finished:  # deleted, or another worker took it over: write nothing
                    raise _Abandoned
        except (_Abandoned, errors.NotFound):  # NotFound: its document was deleted meanwhile
            logger.info(
                "ingestion abandoned",
                extra={"event": "knowledge_ingest_abandoned", "document_id": document.id},
            )
            return
        logger.info(
            "document ingested",
            extra={
                "event": "knowledge_ingested",
                "document_id": document.id,
                "status": status.value,
                "chunks": len(chunks),
            },
        )

    async def _write_chunks(
        self,
        conn: Connection,
        document: DocumentRecord,
        chunks: list[Chunk],
        vectors: list[list[float]],
    ) -> None:
        if vectors:
            model = await store.set_embedding_model(
                conn, knowledge_base_id=document.knowledge_base_id, model=self._embedder.model_id
            )
            if model != self._embedder.model_id:
                raise UnreadableDocument(
                    f"the knowledge base was embedded with {model}, this server embeds with "
                    f"{self._embedder.model_id}"
                )
        ids = await store.insert_chunks(
            conn,
            [
                {
                    "document_id": document.id,
                    "knowledge_base_id": document.knowledge_base_id,
                    "organization_id": document.organization_id,
                    "seq": seq,
                    "heading": chunk.heading,
                    "content": chunk.content,
                }
                for seq, chunk in enumerate(chunks)
            ],
        )
        if vectors:
            await self._index.add_vectors(
                conn, knowledge_base_id=document.knowledge_base_id, chunk_ids=ids, vectors=vectors
            )

    async def _retry_later(self, document: DocumentRecord, error: str) -> None:
        """Keep the lease: the document is tried again once it runs out (a back-off), unless
        this was its last attempt."""
        if document.attempts >= self._config.max_attempts:
            await self._finish(document, DocumentStatus.FAILED, [], [], error=error)
            return
        logger.info(
            "ingestion will be retried",
            extra={"event": "knowledge_ingest_retry", "document_id": document.id},
        )
        async with self._db.write() as conn:
            await store.record_error(conn, document_id=document.id, error=error)


class _Abandoned(Exception):
    """Rolls back an ingestion whose lease was lost."""


def _embedded_text(chunk: Chunk) -> str:
    # the section's headings say what a chunk is about when its text does not
    return f"{chunk.heading}\n{chunk.content}" if chunk.heading else chunk.content
