"""Deployed versions of a workflow or an agent: `GET /v1/{workflows,agents}/{id}/versions`
lists them, `.../versions/{n}` reads one, read-only, in the shape of the workflow or agent.

Not in the xpander contract (it has no version listing); taskloom's own, so that clients can
show what `?version=N` may name and what it runs.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from taskloom.api.deps import Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.models import agent_json, workflow_json
from taskloom.api.params import INT32_MAX
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.engine.wire import iso
from taskloom.store import workflow_versions as version_store
from taskloom.store import workflows as workflow_store

router = APIRouter(tags=["versions"], responses=COMMON_ERRORS, route_class=StrictJsonRoute)


async def _versions(kind: str, target_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.read() as conn:
        current = await workflow_store.get_workflow(
            conn, organization_id=caller.organization_id, workflow_id=target_id, kind=kind
        )
        found = await version_store.list_versions(conn, workflow_id=target_id)
    return JSONBody(
        [
            {
                "version": record.version,
                "created_at": iso(record.created_at),
                "is_latest": record.version == current.latest_version,
            }
            for record in found
        ]
    )


@router.get("/v1/workflows/{workflow_id}/versions")
async def workflow_versions(workflow_id: str, caller: Caller, state: State) -> JSONBody:
    return await _versions(workflow_store.WORKFLOW, workflow_id, caller, state)


@router.get("/v1/agents/{agent_id}/versions")
async def agent_versions(agent_id: str, caller: Caller, state: State) -> JSONBody:
    return await _versions(workflow_store.AGENT, agent_id, caller, state)


VersionNumber = Annotated[int, Path(ge=1, le=INT32_MAX, description="a deployed version")]


async def _version(
    kind: str, target_id: str, version: int, request: Request, caller: Caller, state: State
) -> JSONBody:
    async with state.db.read() as conn:
        current = await workflow_store.get_workflow(
            conn, organization_id=caller.organization_id, workflow_id=target_id, kind=kind
        )
        deployed = await version_store.read_version(conn, workflow_id=target_id, version=version)
    # the workflow (or agent) as that version defines it: its definition stands for the draft
    as_deployed = dataclasses.replace(
        current,
        name=deployed.definition.get("name", current.name),
        draft=deployed.definition,
        latest_version=deployed.version,
        has_pending_changes=False,
    )
    render = workflow_json if kind == workflow_store.WORKFLOW else agent_json
    body: dict[str, Any] = render(as_deployed, base_url=str(request.base_url).rstrip("/"))
    body["is_latest"] = deployed.version == current.latest_version
    body["deployed_at"] = iso(deployed.created_at)
    return JSONBody(body)


@router.get("/v1/workflows/{workflow_id}/versions/{version}")
async def workflow_version(
    workflow_id: str, version: VersionNumber, request: Request, caller: Caller, state: State
) -> JSONBody:
    """One deployed version of the workflow, read-only: its definition as it was deployed."""
    return await _version(workflow_store.WORKFLOW, workflow_id, version, request, caller, state)


@router.get("/v1/agents/{agent_id}/versions/{version}")
async def agent_version(
    agent_id: str, version: VersionNumber, request: Request, caller: Caller, state: State
) -> JSONBody:
    """One deployed version of the agent, read-only."""
    return await _version(workflow_store.AGENT, agent_id, version, request, caller, state)
