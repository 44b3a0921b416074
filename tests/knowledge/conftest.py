"""Knowledge tests: documents served from loopback, and a way to wait for ingestion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.threaded import ThreadedServer
from tests.support.waiting import eventually


class DocumentServer:
    """Serves `files[path] = (content, content_type)` on 127.0.0.1; anything else is 404."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self._server = ThreadedServer(
            Starlette(routes=[Route("/{path:path}", self._serve)]), name="documents"
        )

    async def _serve(self, request: Request) -> Response:
        found = self.files.get(request.url.path)
        if found is None:
            return Response("not found", status_code=404)
        return Response(found[0], media_type=found[1])

    def url(self, path: str) -> str:
        return f"{self._server.url}{path}"

    def __enter__(self) -> DocumentServer:
        self._server.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.stop()


@pytest.fixture
def documents() -> Iterator[DocumentServer]:
    with DocumentServer() as server:
        yield server


async def processed(
    client: httpx.AsyncClient, headers: dict[str, str], kb_id: str, expected: int
) -> list[dict[str, Any]]:
    """The knowledge base's documents once all `expected` are no longer pending."""

    async def check() -> list[dict[str, Any]] | None:
        listed = await client.get(f"/v1/knowledge/{kb_id}/documents", headers=headers)
        items: list[dict[str, Any]] = listed.json()["items"]
        done = [d for d in items if d["status"] != "pending"]
        return items if len(done) == expected else None

    return await eventually(check, timeout=60)


@pytest.fixture(scope="session")
def pgvector_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL with pgvector (the `pgserver` wheel's), for the session: its admin URL.
    The machine's own PostgreSQL has no pgvector."""
    import pgserver

    # a short path: the server's Unix socket lives there (at most ~100 bytes)
    data = tmp_path_factory.mktemp("pgv", numbered=True)
    server = pgserver.get_server(str(data), cleanup_mode="stop")
    try:
        yield str(data)
    finally:
        server.cleanup()


async def pgvector_database(socket_dir: str) -> str:
    """A new, empty database on the pgvector server."""
    import uuid

    import asyncpg

    name = f"kb_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"postgresql://postgres@/{name}?host={socket_dir}"


@pytest.fixture(params=["sqlite", "pgvector"])
async def vector_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store that keeps vectors: SQLite (sqlite-vec) or PostgreSQL with pgvector."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'taskloom.db'}"
    socket_dir: str = request.getfixturevalue("pgvector_server")
    return await pgvector_database(socket_dir)
