"""What a process needs for knowledge bases, built once from the config: the store's index,
the embedder, search, and the ingestion worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from taskloom.clock import Clock
from taskloom.config import KnowledgeConfig
from taskloom.knowledge.embedders import Embedder, OpenAIEmbedder
from taskloom.knowledge.index import Index
from taskloom.knowledge.ingest import Ingestor
from taskloom.knowledge.local_model import LocalEmbedder
from taskloom.knowledge.search import KnowledgeSearch
from taskloom.store.database import Database

if TYPE_CHECKING:
    from taskloom.llm.tools.http_client import SharedHttpClient


@dataclass(frozen=True, slots=True)
class Knowledge:
    config: KnowledgeConfig
    index: Index
    embedder: Embedder
    search: KnowledgeSearch
    ingestor: Ingestor


def make_embedder(config: KnowledgeConfig, http: SharedHttpClient) -> Embedder:
    if config.embedder == "openai":
        key = config.embeddings_api_key
        return OpenAIEmbedder(
            http.get(),
            base_url=config.embeddings_base_url,
            model=config.embeddings_model,
            api_key=key.get_secret_value() if key is not None else None,
            timeout_s=config.fetch_timeout_s,
            batch_size=config.embed_batch,
        )
    return LocalEmbedder(threads=config.local_threads, batch_size=config.embed_batch)


async def open_knowledge(
    db: Database, http: SharedHttpClient, config: KnowledgeConfig, clock: Clock
) -> Knowledge:
    index = Index(db)
    await index.prepare()
    embedder = make_embedder(config, http)
    return Knowledge(
        config=config,
        index=index,
        embedder=embedder,
        search=KnowledgeSearch(db, index, embedder),
        ingestor=Ingestor(db, index, embedder, http, config, clock),
    )
