"""The web UI: the built single-page app (ui/, `make ui`) served at `/`.

The build lands in `taskloom/ui_dist/` inside the package, so a wheel carries it. Hashed
assets are served from `/assets/` (cached for good), and the client's own routes (`/`,
`/workflows/...`, `/tasks/...`, ...) answer `index.html`, so a reload or a shared link opens
the right page. Nothing else is caught: the API, `/docs`, `/openapi.json` and `/health` keep
their own answers, and an unknown path stays a 404. Without a build, `/` says how to make one.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

DIST = Path(__file__).resolve().parent.parent / "ui_dist"

# first path segments of the UI's client routes (ui/src/router.ts)
CLIENT_ROUTES = ("workflows", "tasks", "inbox", "agents", "settings", "signin")

_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>taskloom</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>taskloom</h1>
<p>The web UI is not built. Run <code>make ui</code> (needs Node.js 20 and npm), then reload.</p>
<p>The API is up: see <a href="/docs">/docs</a>.</p>
</body></html>
"""


def install(app: FastAPI, dist: Path = DIST) -> None:
    """Add the UI's routes to `app`; call after every API route is included."""
    index = dist / "index.html"
    if (dist / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=dist / "assets"), name="ui-assets")

    def page() -> FileResponse | HTMLResponse:
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(_NOT_BUILT)

    @app.get("/", include_in_schema=False, response_model=None)
    async def ui_root() -> FileResponse | HTMLResponse:
        return page()

    for route in CLIENT_ROUTES:

        @app.get(f"/{route}", include_in_schema=False, response_model=None)
        @app.get(f"/{route}/{{rest:path}}", include_in_schema=False, response_model=None)
        async def ui_route() -> FileResponse | HTMLResponse:
            return page()

    @app.get("/favicon.svg", include_in_schema=False, response_model=None)
    async def favicon() -> FileResponse | HTMLResponse:
        icon = dist / "favicon.svg"
        if icon.is_file():
            return FileResponse(icon)
        return HTMLResponse("", status_code=404)
