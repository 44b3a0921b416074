"""The async invoke shortcut: `POST /v1/{workflows,agents}/{id}/invoke/async` answered
before routing.

An async invoke's own work is one write transaction; through FastAPI it also pays for
routing, solving a tree of dependencies, validating each parameter and building a response,
together more than the write. This ASGI middleware, behind `RequestGuard` (the body's size
and depth are checked already), answers the plain case with the same functions the route
calls: the body parsed strictly (`strict_json`) and validated as `InvokeRequest`, the caller
authenticated by its `x-api-key` (`authenticate`), `Intake.invoke`, and the route's reply.

Everything else goes on to the route unchanged, body and all: a query string (`version`,
`busy`), a key in `Authorization` or none that is valid, a body that is not JSON or not a
valid invoke, and any error of the invoke itself (nothing was accepted then; the route does
it again and answers in the API's error shape).
"""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskloom import errors
from taskloom.api.deps import AppState, authenticate
from taskloom.api.guard import is_json, strict_json
from taskloom.api.invocations import check_conversation, invocation_of
from taskloom.api.models import InvokeRequest
from taskloom.api.responses import JSONBody
from taskloom.api.routes.invoke import task_reply
from taskloom.engine.wire import task_json
from taskloom.store import workflows as workflow_store

_KINDS = {"workflows": workflow_store.WORKFLOW, "agents": workflow_store.AGENT}
_MAX_KEY = 255  # the route's limit on Idempotency-Key


class InvokeShortcut:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = _target(scope)
        if target is None:
            await self.app(scope, receive, send)
            return
        body, more = await _read_body(receive)
        if more or not await self._answered(scope, send, body, *target):
            await self.app(scope, _replay(body, more, receive), send)

    async def _answered(
        self, scope: Scope, send: Send, body: bytes, kind: str, target_id: str
    ) -> bool:
        api_key = idempotency_key = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                api_key = value
            elif name == b"idempotency-key":
                idempotency_key = value.decode("latin-1")
        if not api_key or (idempotency_key is not None and len(idempotency_key) > _MAX_KEY):
            return False
        state: AppState = scope["app"].state.taskloom
        if not is_json(scope):
            return False
        try:
            # as the route authenticates: from the key cache, and the key's use recorded
            principal = await authenticate(state, api_key.decode("latin-1"))
        except errors.TaskloomError:
            return False
        try:
            request = InvokeRequest.model_validate(strict_json(body) if body else None)
        except (RequestValidationError, ValidationError):
            return False  # the route answers with FastAPI's list of problems
        organization_id = principal.organization_id
        try:
            await check_conversation(state.tasks, request, organization_id=organization_id)
            accepted = await state.intake.invoke(
                invocation_of(
                    request,
                    organization_id=organization_id,
                    workflow_id=target_id,
                    kind=kind,
                    version=None,
                    idempotency_key=idempotency_key,
                )
            )
        except errors.TaskloomError:
            return False
        if accepted.task.turn == 1 and not accepted.replayed:
            # just accepted: no node has run and no sub-task started (as the route answers)
            reply: Response = JSONBody(task_json(accepted.task, [], []))
        else:
            reply = await task_reply(accepted.task, state)
        await reply(scope, _no_body, send)
        return True


def _target(scope: Scope) -> tuple[str, str] | None:
    """(kind, id) of a plain async invoke; None for any other request."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope["query_string"]:
        return None
    parts = scope["path"].split("/")
    # "", "v1", "workflows", id, "invoke", "async"
    if len(parts) != 6 or parts[1] != "v1" or parts[4:] != ["invoke", "async"]:
        return None
    kind = _KINDS.get(parts[2])
    if kind is None or not parts[3]:
        return None
    return kind, parts[3]


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The request body; with the first message that is not a body part, if one came
    (a disconnect): the route is left to deal with it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, more: Message | None, receive: Receive) -> Receive:
    """A `receive` that hands on the body read here, then what `receive` says."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    if more is not None:
        pending.append(more)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _no_body() -> Message:
    return {"type": "http.disconnect"}
