"""Workflows: create, read, edit a draft, deploy numbered versions, invoke (API.md §2.2, §2.4)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from taskloom import errors
from taskloom.agents.credentials import redacted
from taskloom.api.deps import Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.models import page_json, workflow_json
from taskloom.api.params import Pages
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.api.routes.invoke import invoke_routes
from taskloom.clock import utcnow
from taskloom.engine.channels.settings import stored_notifications
from taskloom.nodes.registry import NODE_CONFIGS
from taskloom.store import workflows as workflow_store
from taskloom.workflows.definition import WorkflowPatch, WorkflowSpec
from taskloom.workflows.validate import validate_spec

router = APIRouter(
    prefix="/v1/workflows",
    tags=["workflows"],
    responses=COMMON_ERRORS,
    route_class=StrictJsonRoute,
)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _draft(spec: WorkflowSpec, state: State) -> dict[str, Any]:
    validate_spec(spec, max_nodes=state.api.max_nodes, node_configs=NODE_CONFIGS)
    # node settings' `llm_credentials` are not used (models run on the server's keys or an
    # agent's named secret): a key given there is not kept, so it cannot leak; a Slack bot
    # token (`credentials` of a notification) is kept sealed with the server's secret key
    dumped = stored_notifications(
        spec.model_dump(mode="json", exclude_none=True), state.secrets.seal
    )
    masked: dict[str, Any] = redacted(dumped)
    return masked


@router.post("", status_code=201)
async def create_workflow(
    request: Request, spec: WorkflowSpec, caller: Caller, state: State
) -> JSONBody:
    draft = _draft(spec, state)
    async with state.db.write() as conn:
        workflow = await workflow_store.create_workflow(
            conn,
            workflow_id=str(uuid.uuid4()),
            organization_id=caller.organization_id,
            name=spec.name,
            draft=draft,
            now=utcnow(),
        )
    return JSONBody(workflow_json(workflow, base_url=_base_url(request)), status_code=201)


@router.get("")
async def list_workflows(request: Request, caller: Caller, state: State, pages: Pages) -> JSONBody:
    async with state.db.read() as conn:
        found, total = await workflow_store.list_workflows(
            conn,
            organization_id=caller.organization_id,
            page=pages.page,
            per_page=pages.per_page,
        )
    items = [workflow_json(w, base_url=_base_url(request)) for w in found]
    return JSONBody(page_json(items, total=total, page=pages.page, per_page=pages.per_page))


@router.get("/{workflow_id}")
async def get_workflow(
    request: Request, workflow_id: str, caller: Caller, state: State
) -> JSONBody:
    async with state.db.read() as conn:
        workflow = await workflow_store.get_workflow(
            conn, organization_id=caller.organization_id, workflow_id=workflow_id
        )
    return JSONBody(workflow_json(workflow, base_url=_base_url(request)))


@router.patch("/{workflow_id}")
async def update_workflow(
    request: Request,
    workflow_id: str,
    patch: WorkflowPatch,
    caller: Caller,
    state: State,
    deploy: bool = False,
) -> JSONBody:
    changes = patch.model_dump(exclude_unset=True)
    if not changes:
        raise errors.InvalidRequest("give at least one field to change")
    status = changes.pop("status", None)
    async with state.db.write() as conn:
        current = await workflow_store.get_workflow(
            conn, organization_id=caller.organization_id, workflow_id=workflow_id
        )
        try:
            spec = WorkflowSpec.model_validate({**current.draft, **changes})
        except ValidationError as exc:  # e.g. an explicit null for a field that needs a value
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from exc
        draft = _draft(spec, state)
        workflow = await workflow_store.update_draft(
            conn,
            organization_id=caller.organization_id,
            workflow_id=workflow_id,
            name=spec.name,
            draft=draft,
            status=status or current.status,
            # a status change takes effect at once; only definition changes wait for a deploy
            pending=current.has_pending_changes or draft != current.draft,
            now=utcnow(),
        )
        if deploy:
            workflow = await workflow_store.deploy_workflow(
                conn, organization_id=caller.organization_id, workflow_id=workflow_id, now=utcnow()
            )
    return JSONBody(workflow_json(workflow, base_url=_base_url(request)))


@router.put("/{workflow_id}")
async def deploy_workflow(
    request: Request, workflow_id: str, caller: Caller, state: State
) -> JSONBody:
    async with state.db.write() as conn:
        workflow = await workflow_store.deploy_workflow(
            conn, organization_id=caller.organization_id, workflow_id=workflow_id, now=utcnow()
        )
    return JSONBody(workflow_json(workflow, base_url=_base_url(request)))


@router.delete("/{workflow_id}", status_code=202)
async def delete_workflow(workflow_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.write() as conn:
        await workflow_store.delete_workflow(
            conn, organization_id=caller.organization_id, workflow_id=workflow_id
        )
    return JSONBody({"id": workflow_id, "deleted": True}, status_code=202)


@router.get("/{workflow_id}/nodes")
async def list_nodes(workflow_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.read() as conn:
        workflow = await workflow_store.get_workflow(
            conn, organization_id=caller.organization_id, workflow_id=workflow_id
        )
    return JSONBody(
        [
            {
                "id": node["id"],
                "type": node["type"],
                "name": node.get("name", ""),
                "next_node_ids": node.get("next_node_ids", []),
                "asset_id": node.get("definition", {}).get("asset_id"),
                "connection_id": node.get("connection_id"),
                "operation_id": node.get("operation_id"),
                "target_agent_id": node.get("target_agent_id"),
            }
            for node in workflow.draft.get("orchestration_nodes", [])
        ]
    )


router.include_router(invoke_routes(workflow_store.WORKFLOW))
