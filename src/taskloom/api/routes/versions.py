"""Deployed versions of a workflow or an agent: `GET /v1/{workflows,agents}/{id}/versions`.

Not in the xpander contract (it has no version listing); taskloom's own, so that
clients can show what `?version=N` may name.
"""

from __future__ import annotations

from fastapi import APIRouter

from taskloom.api.deps import Caller, State
from taskloom.api.guard import StrictJsonRoute
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
