"""Agents: create, read, edit a draft, deploy numbered versions, invoke (docs/api.md).

An agent is stored beside workflows (`kind = 'agent'`) and runs as a one-node graph, so its
tasks have every property a workflow's have: durable, resumable, streamed, multi-turn.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from taskloom import errors
from taskloom.agents.credentials import restored, stored_credentials
from taskloom.agents.definition import AgentSpec
from taskloom.api.deps import Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.models import agent_json, minimal_agent_json, page_json
from taskloom.api.params import Pages, Paging
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.api.routes.invoke import invoke_routes
from taskloom.api.routes.tasks import list_tasks
from taskloom.clock import utcnow
from taskloom.engine.channels.settings import stored_notifications
from taskloom.engine.references import check_toolkit_tools
from taskloom.secrets import Secrets
from taskloom.store import workflows as workflow_store
from taskloom.store.database import Database
from taskloom.store.records import TaskStatus

router = APIRouter(
    prefix="/v1/agents", tags=["agents"], responses=COMMON_ERRORS, route_class=StrictJsonRoute
)

AGENT = workflow_store.AGENT


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _draft(
    spec: AgentSpec, *, agent_id: str, organization_id: str, secrets: Secrets, db: Database
) -> dict[str, Any]:
    """The definition to store: credentials given inline (provider key, tool headers, MCP
    keys) move into the organization's encrypted secrets, referred to by name."""

    async def store(name: str, value: str) -> None:
        await secrets.store(organization_id=organization_id, name=name, value=value)

    if spec.toolkit_tools:
        async with db.read() as conn:
            await check_toolkit_tools(
                conn, organization_id=organization_id, asset_ids=spec.toolkit_tools
            )
    spec = await stored_credentials(spec, agent_id=agent_id, store=store)
    # a Slack bot token in `notification_settings` is kept sealed, as a workflow keeps it
    sealed: dict[str, Any] = stored_notifications(
        spec.model_dump(mode="json", exclude_none=True), secrets.seal
    )
    return sealed


def _validated(data: dict[str, Any]) -> AgentSpec:
    try:
        return AgentSpec.model_validate(data)
    except ValidationError as exc:  # e.g. an explicit null for a field that needs a value
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc


@router.post("", status_code=201)
async def create_agent(request: Request, spec: AgentSpec, caller: Caller, state: State) -> JSONBody:
    agent_id = str(uuid.uuid4())
    draft = await _draft(
        spec,
        agent_id=agent_id,
        organization_id=caller.organization_id,
        secrets=state.secrets,
        db=state.db,
    )
    async with state.db.write() as conn:
        agent = await workflow_store.create_workflow(
            conn,
            workflow_id=agent_id,
            organization_id=caller.organization_id,
            name=spec.name,
            draft=draft,
            now=utcnow(),
            kind=AGENT,
        )
    return JSONBody(agent_json(agent, base_url=_base_url(request)), status_code=201)


async def _page(caller: Caller, state: State, pages: Paging) -> tuple[list[Any], int]:
    async with state.db.read() as conn:
        return await workflow_store.list_workflows(
            conn,
            organization_id=caller.organization_id,
            page=pages.page,
            per_page=pages.per_page,
            kind=AGENT,
        )


@router.get("")
async def list_agents(request: Request, caller: Caller, state: State, pages: Pages) -> JSONBody:
    found, total = await _page(caller, state, pages)
    items = [minimal_agent_json(a) for a in found]
    return JSONBody(page_json(items, total=total, page=pages.page, per_page=pages.per_page))


@router.get("/full")
async def list_agents_full(
    request: Request, caller: Caller, state: State, pages: Pages
) -> JSONBody:
    found, total = await _page(caller, state, pages)
    items = [agent_json(a, base_url=_base_url(request)) for a in found]
    return JSONBody(page_json(items, total=total, page=pages.page, per_page=pages.per_page))


@router.get("/{agent_id}")
async def get_agent(request: Request, agent_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.read() as conn:
        agent = await workflow_store.get_workflow(
            conn, organization_id=caller.organization_id, workflow_id=agent_id, kind=AGENT
        )
    return JSONBody(agent_json(agent, base_url=_base_url(request)))


@router.patch("/{agent_id}")
async def update_agent(
    request: Request,
    agent_id: str,
    changes: Annotated[dict[str, Any], Body()],
    caller: Caller,
    state: State,
    deploy: bool = False,
) -> JSONBody:
    # ids in the body (xpander clients send them) name what the path already names
    for echoed in ("id", "agent_id", "organization_id"):
        changes.pop(echoed, None)
    if not changes:
        raise errors.InvalidRequest("give at least one field to change")
    status = changes.pop("status", None)
    if status is not None and status not in ("ACTIVE", "INACTIVE", "DRAFT"):
        raise errors.InvalidRequest("status must be ACTIVE, INACTIVE or DRAFT")
    org = caller.organization_id
    async with state.db.read() as conn:
        current = await workflow_store.get_workflow(
            conn, organization_id=org, workflow_id=agent_id, kind=AGENT
        )
    # a definition read back (credentials masked) and saved again keeps its credentials
    changes = {key: restored(value, current.draft.get(key)) for key, value in changes.items()}
    spec = _validated({**current.draft, **changes})
    draft = await _draft(
        spec, agent_id=agent_id, organization_id=org, secrets=state.secrets, db=state.db
    )
    async with state.db.write() as conn:
        agent = await workflow_store.update_draft(
            conn,
            organization_id=org,
            workflow_id=agent_id,
            name=spec.name,
            draft=draft,
            status=status or current.status,
            pending=current.has_pending_changes or draft != current.draft,
            now=utcnow(),
            kind=AGENT,
        )
        if deploy:
            agent = await workflow_store.deploy_workflow(
                conn, organization_id=org, workflow_id=agent_id, now=utcnow(), kind=AGENT
            )
    return JSONBody(agent_json(agent, base_url=_base_url(request)))


@router.put("/{agent_id}")
async def deploy_agent(request: Request, agent_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.write() as conn:
        agent = await workflow_store.deploy_workflow(
            conn,
            organization_id=caller.organization_id,
            workflow_id=agent_id,
            now=utcnow(),
            kind=AGENT,
        )
    return JSONBody(agent_json(agent, base_url=_base_url(request)))


@router.delete("/{agent_id}", status_code=202)
async def delete_agent(agent_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.write() as conn:
        await workflow_store.delete_workflow(
            conn, organization_id=caller.organization_id, workflow_id=agent_id, kind=AGENT
        )
    return JSONBody({"id": agent_id, "deleted": True}, status_code=202)


@router.get("/{agent_id}/tasks")
async def agent_tasks(
    agent_id: str,
    caller: Caller,
    state: State,
    pages: Pages,
    status: TaskStatus | None = None,
    parent_task_id: str | None = None,
    user_id: str | None = None,
    triggering_agent_id: str | None = None,
    internal_status: str | None = None,
) -> JSONBody:
    return await list_tasks(
        caller,
        state,
        pages,
        agent_id=agent_id,
        status=status,
        parent_task_id=parent_task_id,
        user_id=user_id,
        triggering_agent_id=triggering_agent_id,
        internal_status=internal_status,
    )


router.include_router(invoke_routes(workflow_store.AGENT))
