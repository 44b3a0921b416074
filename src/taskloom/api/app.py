"""The FastAPI application: routers, error mapping, limits, and the lifespan that owns state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from taskloom import __version__
from taskloom.api import errors, ui
from taskloom.api.deps import AppState, KeyCache
from taskloom.api.guard import RequestGuard
from taskloom.api.routes import agents, secrets, tasks, workflows
from taskloom.api.routes.sdk import router as sdk_router
from taskloom.api.routes.sdk_workers import router as sdk_workers_router
from taskloom.api.views import TaskViews
from taskloom.config import Settings
from taskloom.engine.host import open_host


def create_app(settings: Settings) -> FastAPI:
    api_config = settings.api()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_host(settings, run_worker=settings.embedded_workers) as host:
            app.state.taskloom = AppState(
                settings=settings,
                api=api_config,
                db=host.db,
                tasks=host.tasks,
                views=TaskViews(host.db),
                keys=KeyCache(ttl_s=api_config.key_cache_s),
                secrets=host.secrets,
                sdk_workers=host.sdk_workers,
            )
            yield

    app = FastAPI(title="taskloom", version=__version__, lifespan=lifespan)
    app.add_middleware(RequestGuard, max_bytes=api_config.max_body_bytes)
    errors.install(app)
    app.include_router(workflows.router)
    app.include_router(agents.router)
    app.include_router(tasks.router)
    app.include_router(secrets.router)
    app.include_router(sdk_workers_router)
    app.include_router(sdk_router)  # last: its /{organization_id} prefix is the loosest match

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    ui.install(app)  # last: the web UI at `/` and its client routes (api/ui.py)
    return app
