"""The poll shortcut: `GET /v1/tasks/{id}` answered before routing.

Clients poll a task until it settles, so most of a server's requests are this one GET and
most of them find nothing new. Through FastAPI such a poll costs routing, dependency solving,
parameter validation and a response object, several times the work of the answer itself. This
ASGI middleware answers it from the bytes `TaskViews` rendered last time, after one indexed read
of the task's event sequence on the driver's connection: a poll sees exactly what has
committed, as the route does, on every process. A task changed since (or never rendered here)
is rendered here too, as the route would.

Everything else goes on to the app unchanged: a query string (`?wait=`), a key not in the key
cache (the route authenticates and fills it), a task that is not there (the route answers its
404) or a store that does not answer (503).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from taskloom import errors
from taskloom.api.deps import AppState
from taskloom.api.views import not_modified
from taskloom.store import keys as key_store

_PREFIX = "/v1/tasks/"
_JSON = (b"content-type", b"application/json")


class PollShortcut:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not scope["query_string"]
            and await self._answered(scope, send)
        ):
            return
        await self.app(scope, receive, send)

    async def _answered(self, scope: Scope, send: Send) -> bool:
        path: str = scope["path"]
        if not path.startswith(_PREFIX):
            return False
        task_id = path[len(_PREFIX) :]
        if not task_id or "/" in task_id or "\x00" in task_id:
            return False
        api_key = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                api_key = value
            elif name == b"if-none-match":
                if_none_match = value
        if not api_key:
            return False
        state: AppState = scope["app"].state.taskloom
        principal = state.keys.get(key_store.hash_key(api_key.decode("latin-1")))
        if principal is None:
            return False
        try:
            view = await state.views.current(
                organization_id=principal.organization_id, task_id=task_id
            ) or await state.views.rendered(
                organization_id=principal.organization_id, task_id=task_id
            )
        except (errors.NotFound, errors.StoreUnavailable):
            return False  # the route answers these in the API's error shape
        if not_modified(if_none_match, view.etag):
            await send(
                {"type": "http.response.start", "status": 304, "headers": [(b"etag", view.etag)]}
            )
            await send({"type": "http.response.body", "body": b""})
            return True
        headers = [_JSON, (b"content-length", b"%d" % len(view.body)), (b"etag", view.etag)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": view.body})
        return True
