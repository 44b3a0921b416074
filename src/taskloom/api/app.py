"""The FastAPI application: routers, error mapping, limits, and the lifespan that owns state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from taskloom import __version__
from taskloom.api import docs_pages, errors, metrics, ui
from taskloom.api.deps import AppState, KeyCache, State
from taskloom.api.guard import RequestGuard
from taskloom.api.invoke_shortcut import InvokeShortcut
from taskloom.api.polls import PollShortcut
from taskloom.api.routes import (
    agents,
    knowledge,
    schedules,
    sdk_knowledge,
    sdk_tools,
    secrets,
    tasks,
    toolkits,
    waits,
    webhook,
    webhooks,
    workflows,
)
from taskloom.api.routes.sdk import router as sdk_router
from taskloom.api.routes.sdk_workers import router as sdk_workers_router
from taskloom.api.routes.trace import router as trace_router
from taskloom.api.routes.versions import router as versions_router
from taskloom.api.views import TaskViews
from taskloom.config import Settings
from taskloom.engine import health as engine_health
from taskloom.engine.heap import freeze_startup_heap
from taskloom.engine.host import open_host


def create_app(settings: Settings, *, tracer_provider: Any = None) -> FastAPI:
    """The app; `tracer_provider` (an OpenTelemetry one) traces its workers' runs on it."""
    api_config = settings.api()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_host(
            settings, run_worker=settings.embedded_workers, tracer_provider=tracer_provider
        ) as host:
            app.state.taskloom = AppState(
                settings=settings,
                api=api_config,
                db=host.db,
                intake=host.intake,
                tasks=host.tasks,
                views=TaskViews(host.db, size=api_config.task_view_cache_entries),
                keys=KeyCache(ttl_s=api_config.key_cache_s),
                secrets=host.secrets,
                sdk_workers=host.sdk_workers,
                worker=host.worker,
                side_tasks=host.side_tasks,
                waits=host.waits,
                clock=host.clock,
                notifications=host.notifications,
                knowledge=host.knowledge,
                sandbox=host.sandbox,
                http=host.http,
                toolkits=host.toolkits,
                llm_calls=host.llm_calls,
            )
            freeze_startup_heap()  # startup's objects live as long as the server
            yield

    # /docs and /redoc are taskloom's own (api/docs_pages.py): FastAPI's load from a CDN
    app = FastAPI(
        title="taskloom", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.add_middleware(InvokeShortcut)  # behind the guard: the body is checked by then
    app.add_middleware(
        RequestGuard,
        max_bytes=api_config.max_body_bytes,
        max_depth=api_config.max_json_depth,
    )
    app.add_middleware(PollShortcut)  # added last, so it runs first
    errors.install(app)
    docs_pages.install(app)
    app.include_router(workflows.router)
    app.include_router(agents.router)
    app.include_router(tasks.router)
    app.include_router(secrets.router)
    app.include_router(toolkits.router)
    app.include_router(knowledge.router)
    app.include_router(sdk_knowledge.router)
    app.include_router(sdk_tools.router)
    app.include_router(waits.router)
    app.include_router(webhook.router)
    app.include_router(schedules.router)
    app.include_router(webhooks.router)
    app.include_router(versions_router)
    app.include_router(trace_router)
    app.include_router(sdk_workers_router)
    app.include_router(sdk_router)  # last: its /{organization_id} prefix is the loosest match

    @app.get(
        "/health",
        tags=["health"],
        responses={503: {"description": "the store is unreachable or a worker loop is down"}},
    )
    async def health(state: State) -> JSONResponse:
        report = await engine_health.check(state.db, state.worker, state.side_tasks, state.sandbox)
        return JSONResponse(report.as_json(), status_code=200 if report.ok else 503)

    metrics.install(app)
    ui.install(app)  # last: the web UI at `/` and its client routes (api/ui.py)
    return app
