"""Embedders: text in, unit vectors out. The local model (local_model.py) by default, or any
OpenAI-compatible `/embeddings` endpoint, reached through the egress-checked client.

    EmbeddingFailed        the endpoint refused, failed, or answered something else
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from taskloom import errors

if TYPE_CHECKING:
    import httpx2


class EmbeddingFailed(errors.TaskloomError):
    """The embeddings endpoint could not be used: worth another try later."""


class Embedder(Protocol):
    @property
    def model_id(self) -> str:
        """Names the vector space: vectors of two different ids are never compared."""
        ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in order."""
        ...


def normalized(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm > 0 else list(vector)


class OpenAIEmbedder:
    """`POST {base_url}/embeddings` with `{"model", "input": [...]}`, as OpenAI and the many
    servers that copy it answer: `{"data": [{"index", "embedding"}, ...]}`."""

    def __init__(
        self,
        client: httpx2.AsyncClient,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout_s: float,
        batch_size: int,
    ) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._batch_size = batch_size

    @property
    def model_id(self) -> str:
        return f"openai:{self._model}"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            vectors += await self._batch(list(texts[start : start + self._batch_size]))
        return vectors

    async def _batch(self, texts: list[str]) -> list[list[float]]:
        import httpx2

        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            response = await self._client.post(
                self._url,
                json={"model": self._model, "input": texts},
                headers=headers,
                timeout=self._timeout_s,
                follow_redirects=False,
            )
        except httpx2.HTTPError as exc:
            raise EmbeddingFailed(f"the embeddings endpoint failed: {type(exc).__name__}") from exc
        if not response.is_success:
            raise EmbeddingFailed(f"the embeddings endpoint answered {response.status_code}")
        return _vectors(response.json(), expected=len(texts))


def _vectors(body: Any, *, expected: int) -> list[list[float]]:
    try:
        items = sorted(body["data"], key=lambda item: item["index"])
        vectors = [normalized([float(x) for x in item["embedding"]]) for item in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise EmbeddingFailed("the embeddings endpoint answered an unexpected body") from exc
    if len(vectors) != expected or len({len(v) for v in vectors}) > 1:
        raise EmbeddingFailed(
            f"the embeddings endpoint answered {len(vectors)} vectors for {expected} texts"
        )
    return vectors
