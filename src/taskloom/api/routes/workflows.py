"""Workflows: create, read, edit a draft, deploy numbered versions, invoke (docs/api.md)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

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
from taskloom.engine.references import check_references
from taskloom.engine.wire import iso
from taskloom.nodes.registry import NODE_CONFIGS
from taskloom.store import workflows as workflow_store
from taskloom.store.database import Connection
from taskloom.store.records import WorkflowRecord
from taskloom.workflows.definition import Name, WorkflowPatch, WorkflowSpec
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
    workflow_id = str(uuid.uuid4())
    async with state.db.write() as conn:
        await _check(conn, state, caller, workflow_id, draft, deploying=False)
        workflow = await workflow_store.create_workflow(
            conn,
            workflow_id=workflow_id,
            organization_id=caller.organization_id,
            name=spec.name,
            draft=draft,
            now=utcnow(),
        )
    return JSONBody(workflow_json(workflow, base_url=_base_url(request)), status_code=201)


def _validated(data: dict[str, Any]) -> WorkflowSpec:
    """A stored draft with a client's changes, checked as a whole."""
    try:
        return WorkflowSpec.model_validate(data)
    except ValidationError as exc:  # e.g. an explicit null for a field that needs a value
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc


@router.get("")
async def list_workflows(request: Request, caller: Caller, state: State, pages: Pages) -> JSONBody:
    async with state.db.read() as conn:
        found, total = await workflow_store.list_workflows(
            conn,
            organization_id=caller.organization_id,
            page=pages.page,
            per_page=pages.per_page,
        )
        last = await workflow_store.last_tasks(
            conn, organization_id=caller.organization_id, workflow_ids=[w.id for w in found]
        )
    items = [
        {**workflow_json(w, base_url=_base_url(request)), "last_task": _last_task(last.get(w.id))}
        for w in found
    ]
    return JSONBody(page_json(items, total=total, page=pages.page, per_page=pages.per_page))


def _last_task(found: dict[str, Any] | None) -> dict[str, Any] | None:
    """The newest task of a listed workflow, so a list can show how it last ran."""
    if found is None:
        return None
    return {**found, "created_at": iso(found["created_at"])}


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
        spec = _validated({**current.draft, **changes})
        draft = _draft(spec, state)
        await _check(conn, state, caller, workflow_id, draft, deploying=False)
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
            workflow = await _deploy(conn, state, caller, workflow_id)
    return JSONBody(workflow_json(workflow, base_url=_base_url(request)))


@router.put("/{workflow_id}")
async def deploy_workflow(
    request: Request, workflow_id: str, caller: Caller, state: State
) -> JSONBody:
    async with state.db.write() as conn:
        workflow = await _deploy(conn, state, caller, workflow_id)
    return JSONBody(workflow_json(workflow, base_url=_base_url(request)))


async def _check(
    conn: Connection,
    state: State,
    caller: Caller,
    workflow_id: str,
    draft: dict[str, Any],
    *,
    deploying: bool,
) -> None:
    await check_references(
        conn,
        organization_id=caller.organization_id,
        workflow_id=workflow_id,
        definition=draft,
        deploying=deploying,
        max_nesting_depth=state.api.max_nesting_depth,
    )


async def _deploy(
    conn: Connection, state: State, caller: Caller, workflow_id: str
) -> WorkflowRecord:
    """Deploy the draft, once what it names can run (agents, nested workflows, operations)."""
    current = await workflow_store.get_workflow(
        conn, organization_id=caller.organization_id, workflow_id=workflow_id
    )
    await _check(conn, state, caller, workflow_id, current.draft, deploying=True)
    return await workflow_store.deploy_workflow(
        conn, organization_id=caller.organization_id, workflow_id=workflow_id, now=utcnow()
    )


@router.delete("/{workflow_id}", status_code=202)
async def delete_workflow(workflow_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.write() as conn:
        await workflow_store.delete_workflow(
            conn, organization_id=caller.organization_id, workflow_id=workflow_id
        )
    return JSONBody({"id": workflow_id, "deleted": True}, status_code=202)


def _node_json(node: dict[str, Any]) -> dict[str, Any]:
    """A node as the nodes routes show it: the simplified shape of the contract."""
    definition = node.get("definition") or {}
    asset = definition.get("asset_id")
    connection_id, operation_id = node.get("connection_id"), node.get("operation_id")
    if node.get("type") == "action" and asset and "_" in str(asset):
        connection_id, _, operation_id = str(asset).partition("_")
    return {
        "id": node["id"],
        "type": node["type"],
        "name": node.get("name", ""),
        "next_node_ids": node.get("next_node_ids", []),
        "asset_id": asset,
        "connection_id": connection_id,
        "operation_id": operation_id,
        "target_agent_id": node.get("target_agent_id")
        or (asset if node.get("type") == "agent" else None),
    }


@router.get("/{workflow_id}/nodes")
async def list_nodes(workflow_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.read() as conn:
        workflow = await workflow_store.get_workflow(
            conn, organization_id=caller.organization_id, workflow_id=workflow_id
        )
    return JSONBody([_node_json(node) for node in workflow.draft.get("orchestration_nodes", [])])


class NewNode(BaseModel):
    """`POST /v1/workflows/{id}/nodes`: an agent node (`agent_id`), an action node
    (`connection_id` = toolkit id and `operation_id`), or any node in full (`advanced`)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, max_length=255)
    agent_id: str | None = Field(default=None, max_length=64)
    connection_id: str | None = Field(default=None, max_length=64)
    operation_id: str | None = Field(default=None, max_length=128)
    instructions: str | None = None
    advanced: dict[str, Any] | None = None
    # where to wire it: after these nodes; none: after every node that has no next node yet
    after_node_ids: list[str] | None = Field(
        default=None, validation_alias=AliasChoices("after_node_ids", "after_node_id")
    )

    @field_validator("after_node_ids", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def _new_node(body: NewNode) -> dict[str, Any]:
    if body.advanced is not None:
        node = dict(body.advanced)
    elif body.agent_id is not None:
        definition: dict[str, Any] = {"asset_id": body.agent_id}
        if body.instructions:
            definition["instructions"] = body.instructions
        node = {"type": "agent", "definition": definition}
    elif body.connection_id is not None and body.operation_id is not None:
        definition = {"asset_id": f"{body.connection_id}_{body.operation_id}"}
        if body.instructions:
            definition |= {"instructions": body.instructions, "fill_arguments_with_llm": True}
        node = {"type": "action", "definition": definition}
    else:
        raise errors.InvalidRequest(
            "give `agent_id`, `connection_id` with `operation_id`, or `advanced` (a full node)"
        )
    node.setdefault("id", str(uuid.uuid4()))
    if body.name is not None:
        node["name"] = body.name
    return node


async def _edit_nodes(
    workflow_id: str,
    caller: Caller,
    state: State,
    deploy: bool,
    edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
) -> WorkflowRecord:
    """Change the draft's nodes with `edit`, validate and save it; deploy it if asked."""
    async with state.db.write() as conn:
        current = await workflow_store.get_workflow(
            conn, organization_id=caller.organization_id, workflow_id=workflow_id
        )
        nodes = edit(copy.deepcopy(current.draft.get("orchestration_nodes", [])))
        spec = _validated({**current.draft, "orchestration_nodes": nodes})
        draft = _draft(spec, state)
        await _check(conn, state, caller, workflow_id, draft, deploying=False)
        workflow = await workflow_store.update_draft(
            conn,
            organization_id=caller.organization_id,
            workflow_id=workflow_id,
            name=spec.name,
            draft=draft,
            status=current.status,
            pending=current.has_pending_changes or draft != current.draft,
            now=utcnow(),
        )
        if deploy:
            workflow = await _deploy(conn, state, caller, workflow_id)
    return workflow


@router.post("/{workflow_id}/nodes", status_code=201)
async def add_node(
    workflow_id: str,
    body: Annotated[NewNode, Body()],
    caller: Caller,
    state: State,
    deploy: bool = False,
) -> JSONBody:
    node = _new_node(body)

    def add(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = {n.get("id") for n in nodes}
        after = body.after_node_ids
        if after is None:
            after = [n["id"] for n in nodes if not n.get("next_node_ids")]
        for predecessor in after:
            if predecessor not in ids:
                raise errors.InvalidRequest(f"after_node_ids: no node {predecessor!r}")
        for existing in nodes:
            if existing.get("id") in after:
                existing["next_node_ids"] = [*existing.get("next_node_ids", []), node["id"]]
        return [*nodes, node]

    await _edit_nodes(workflow_id, caller, state, deploy, add)
    return JSONBody(_node_json(node), status_code=201)


@router.delete("/{workflow_id}/nodes/{node_id}")
async def remove_node(
    workflow_id: str, node_id: str, caller: Caller, state: State, deploy: bool = True
) -> JSONBody:
    """Remove a node and every edge to it (its successors stay, unwired from it); the
    remaining nodes are the reply."""

    def remove(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not any(n.get("id") == node_id for n in nodes):
            raise errors.NotFound(f"workflow {workflow_id} has no node {node_id}")
        kept = [n for n in nodes if n.get("id") != node_id]
        for existing in kept:
            existing["next_node_ids"] = [
                target for target in existing.get("next_node_ids", []) if target != node_id
            ]
        return kept

    workflow = await _edit_nodes(workflow_id, caller, state, deploy, remove)
    return JSONBody([_node_json(n) for n in workflow.draft.get("orchestration_nodes", [])])


router.include_router(invoke_routes(workflow_store.WORKFLOW))
