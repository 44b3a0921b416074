"""The app served over real HTTP on 127.0.0.1, in the test's own event loop: for streams that
never end by themselves, which httpx's in-process ASGI transport would buffer whole."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import httpx
import uvicorn

from taskloom.api.app import create_app
from taskloom.config import Settings
from tests.support.waiting import eventually


@contextlib.asynccontextmanager
async def live_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")

        async def up() -> bool:
            if serving.done():
                serving.result()  # re-raise why it stopped
            return server.started

        try:
            await eventually(up, timeout=30)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as http:
                yield http
        finally:
            server.should_exit = True
            await serving
            sock.close()
