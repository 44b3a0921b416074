"""The knowledge search tool: an agent looks up passages in its knowledge bases.

The result cites where each passage comes from (knowledge base, document, chunk), so the
model can say so in its answer. The search itself is the engine's (`KnowledgeSearcher`):
this module knows nothing of stores or embedders.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from taskloom import errors
from taskloom.llm.tools.base import Tool, ToolResult, cut_text

TOOL_NAME = "search_knowledge"
_MAX_RESULTS = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Passage:
    knowledge_base_id: str
    document_id: str
    document_name: str
    chunk_id: int
    heading: str
    content: str
    score: float


class KnowledgeSearcher(Protocol):
    async def search_many(
        self,
        *,
        organization_id: str,
        knowledge_base_ids: Sequence[str],
        query: str,
        top_k: int,
    ) -> list[Passage]:
        """The best `top_k` passages of these knowledge bases for `query`, best first."""
        ...


@dataclass(frozen=True, slots=True)
class KnowledgeSearchTool:
    searcher: KnowledgeSearcher
    organization_id: str
    knowledge_base_ids: tuple[str, ...]
    limit_bytes: int
    top_k: int = 5

    @property
    def name(self) -> str:
        return TOOL_NAME

    @property
    def description(self) -> str:
        return (
            "Search the agent's knowledge bases (its documents) for passages about a topic. "
            "Each result cites its source: cite document_name and chunk_id when you use it."
        )

    @property
    def parameters(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "maxLength": 2000},
                "top_k": {"type": "integer", "minimum": 1, "maximum": _MAX_RESULTS},
            },
            "required": ["query"],
            "additionalProperties": False,
        }

    async def call(self, args: dict[str, Any], *, idempotency_key: str) -> ToolResult:
        try:
            passages = await self.searcher.search_many(
                organization_id=self.organization_id,
                knowledge_base_ids=self.knowledge_base_ids,
                query=str(args["query"]),
                top_k=int(args.get("top_k") or self.top_k),
            )
        except errors.TaskloomError as exc:  # a missing knowledge base, no pgvector, ...
            return ToolResult(f"knowledge search failed: {exc}", is_error=True)
        return ToolResult(cut_text(json.dumps(citations(passages)), self.limit_bytes))


def citations(passages: Sequence[Passage]) -> dict[str, Any]:
    """What the model reads: each passage with where it comes from."""
    return {
        "results": [
            {
                "content": p.content,
                "score": round(p.score, 6),
                "source": {
                    "knowledge_base_id": p.knowledge_base_id,
                    "document_id": p.document_id,
                    "document_name": p.document_name,
                    "chunk_id": p.chunk_id,
                    "section": p.heading,
                },
            }
            for p in passages
        ]
    }


def knowledge_tools(
    searcher: KnowledgeSearcher | None,
    *,
    organization_id: str,
    knowledge_base_ids: Sequence[str],
    limit_bytes: int,
) -> list[Tool]:
    """The search tool when the agent has knowledge bases, else none."""
    if not knowledge_base_ids:
        return []
    if searcher is None:
        raise errors.NodeFailed("this process is not set up to search knowledge bases")
    return [
        KnowledgeSearchTool(
            searcher=searcher,
            organization_id=organization_id,
            knowledge_base_ids=tuple(dict.fromkeys(knowledge_base_ids)),
            limit_bytes=limit_bytes,
        )
    ]
