"""Shared fixtures: every store-backed test runs on real SQLite and real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskloom.api.app import create_app
from taskloom.clock import utcnow
from taskloom.config import Settings
from taskloom.store import keys as key_store
from taskloom.store.database import Database
from tests.support.databases import drop_session_database, fresh_pg_database

BACKENDS = ["sqlite", "postgres"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    asyncio.run(drop_session_database())


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'taskloom.db'}"
        return
    yield await fresh_pg_database()


def test_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "lease_s": 3.0,
        "heartbeat_s": 0.5,
        "sweep_s": 0.5,
        "poll_s": 0.2,
        "sandbox_pool_size": 2,
        "worker_concurrency": 16,
        "sync_wait_s": 30.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return test_settings(database_url)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://taskloom") as client:
            yield client


async def new_key(database_url: str, org: str) -> str:
    async with Database(database_url) as db, db.write() as conn:
        org_id = await key_store.ensure_organization(conn, name=org, now=utcnow())
        return await key_store.create_api_key(conn, organization_id=org_id, now=utcnow())


@pytest.fixture
async def api_key(client: httpx.AsyncClient, database_url: str) -> str:
    # `client` first: its lifespan has migrated the database
    return await new_key(database_url, "acme")


@pytest.fixture
async def other_key(client: httpx.AsyncClient, database_url: str) -> str:
    return await new_key(database_url, "globex")


@pytest.fixture
def headers(api_key: str) -> dict[str, str]:
    return {"x-api-key": api_key}


DeployWorkflow = Callable[[dict[str, Any]], Awaitable[str]]


@pytest.fixture
def deploy_workflow(client: httpx.AsyncClient, headers: dict[str, str]) -> DeployWorkflow:
    """Create a workflow from `body`, deploy it, return its id."""

    async def deploy(body: dict[str, Any]) -> str:
        created = await client.post("/v1/workflows", json=body, headers=headers)
        assert created.status_code == 201, created.text
        workflow_id: str = created.json()["id"]
        deployed = await client.put(f"/v1/workflows/{workflow_id}", headers=headers)
        assert deployed.status_code == 200, deployed.text
        return workflow_id

    return deploy
