"""Workflow and agent queries: the editable draft and its immutable, numbered versions.

Agents live in the same table (`kind = 'agent'`): drafts, deploys, versions and invokes work
the same for both. `kind=None` finds either, as the xpander-sdk routes need.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection, HotStatement
from taskloom.store.records import WorkflowRecord, WorkflowStatus
from taskloom.store.tables import tasks, workflow_versions, workflows

w = workflows
v = workflow_versions
# every invoke reads its target: a prebuilt statement on the driver's connection
_GET = HotStatement(
    sa.select(w).where(w.c.id == sa.bindparam("p_id"), w.c.organization_id == sa.bindparam("p_org"))
)
WORKFLOW = "workflow"
AGENT = "agent"


def _noun(kind: str | None) -> str:
    return kind or "agent"


async def create_workflow(
    conn: Connection,
    *,
    workflow_id: str,
    organization_id: str,
    name: str,
    draft: dict[str, Any],
    now: datetime,
    kind: str = WORKFLOW,
) -> WorkflowRecord:
    values: dict[str, Any] = {
        "id": workflow_id,
        "organization_id": organization_id,
        "name": name,
        "kind": kind,
        "draft": draft,
        "has_pending_changes": True,
        "latest_version": None,
        "status": WorkflowStatus.ACTIVE,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(sa.insert(w).values(values))
    return WorkflowRecord.from_row(values)


async def get_workflow(
    conn: Connection, *, organization_id: str, workflow_id: str, kind: str | None = WORKFLOW
) -> WorkflowRecord:
    params = {"p_id": workflow_id, "p_org": organization_id}
    rows = await conn.fetch(_GET, params)
    if not rows or (kind is not None and rows[0]["kind"] != kind):
        raise errors.NotFound(f"{_noun(kind)} {workflow_id} not found")
    return WorkflowRecord.from_row(rows[0])


async def list_workflows(
    conn: Connection,
    *,
    organization_id: str,
    page: int,
    per_page: int,
    kind: str | None = WORKFLOW,
) -> tuple[list[WorkflowRecord], int]:
    where = w.c.organization_id == organization_id
    if kind is not None:
        where = sa.and_(where, w.c.kind == kind)
    total = (await conn.execute(sa.select(sa.func.count()).select_from(w).where(where))).scalar()
    rows = await conn.execute(
        sa.select(w)
        .where(where)
        .order_by(w.c.created_at.desc(), w.c.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [WorkflowRecord.from_row(r) for r in rows.mappings()], int(total or 0)


async def last_tasks(
    conn: Connection, *, organization_id: str, workflow_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The newest task of each of `workflow_ids` that has one (`id`, `status`, `created_at`):
    one statement, each workflow's answer read off the end of its task-list index."""
    if not workflow_ids:
        return {}
    t = tasks
    newest = (
        sa.select(t.c.id)
        .where(t.c.organization_id == organization_id, t.c.agent_id == w.c.id)
        .order_by(t.c.created_at.desc(), t.c.id.desc())
        .limit(1)
        .correlate(w)
        .scalar_subquery()
    )
    rows = await conn.execute(
        sa.select(w.c.id.label("workflow_id"), t.c.id, t.c.status, t.c.created_at)
        .select_from(w.join(t, t.c.id == newest))
        .where(w.c.organization_id == organization_id, w.c.id.in_(workflow_ids))
    )
    return {
        row.workflow_id: {"id": row.id, "status": row.status, "created_at": row.created_at}
        for row in rows
    }


async def update_draft(
    conn: Connection,
    *,
    organization_id: str,
    workflow_id: str,
    name: str,
    draft: dict[str, Any],
    status: str,
    pending: bool,
    now: datetime,
    kind: str = WORKFLOW,
) -> WorkflowRecord:
    result = await conn.execute(
        sa.update(w)
        .where(w.c.id == workflow_id, w.c.organization_id == organization_id, w.c.kind == kind)
        .values(
            name=name,
            draft=draft,
            status=status,
            has_pending_changes=pending,
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        raise errors.NotFound(f"{kind} {workflow_id} not found")
    return await get_workflow(
        conn, organization_id=organization_id, workflow_id=workflow_id, kind=kind
    )


async def deploy_workflow(
    conn: Connection,
    *,
    organization_id: str,
    workflow_id: str,
    now: datetime,
    kind: str = WORKFLOW,
) -> WorkflowRecord:
    """Snapshot the draft as the next version. One UPDATE takes the number and the row lock,
    so concurrent deploys each get their own version."""
    bumped = (
        await conn.execute(
            sa.update(w)
            .where(w.c.id == workflow_id, w.c.organization_id == organization_id, w.c.kind == kind)
            .values(
                latest_version=sa.func.coalesce(w.c.latest_version, 0) + 1,
                has_pending_changes=False,
                updated_at=now,
            )
            .returning(w.c.latest_version, w.c.draft)
        )
    ).first()
    if bumped is None:
        raise errors.NotFound(f"{kind} {workflow_id} not found")
    await conn.execute(
        sa.insert(v).values(
            workflow_id=workflow_id,
            version=bumped.latest_version,
            # the snapshot says what it is: the runner builds an agent's graph from it
            definition={**bumped.draft, "kind": kind},
            created_at=now,
        )
    )
    return await get_workflow(
        conn, organization_id=organization_id, workflow_id=workflow_id, kind=kind
    )


async def get_version(conn: Connection, *, workflow_id: str, version: int) -> dict[str, Any]:
    found = await conn.execute(
        sa.select(v.c.definition).where(v.c.workflow_id == workflow_id, v.c.version == version)
    )
    definition = found.scalar()
    if definition is None:
        raise errors.NotFound(f"workflow {workflow_id} has no version {version}")
    return dict(definition)


async def delete_workflow(
    conn: Connection, *, organization_id: str, workflow_id: str, kind: str = WORKFLOW
) -> None:
    await get_workflow(conn, organization_id=organization_id, workflow_id=workflow_id, kind=kind)
    await conn.execute(sa.delete(v).where(v.c.workflow_id == workflow_id))
    await conn.execute(sa.delete(w).where(w.c.id == workflow_id))


async def lock_workflow(conn: Connection, *, workflow_id: str) -> None:
    """Serialise invokes of one workflow for the rest of the transaction (PostgreSQL; SQLite
    serialises every writer already)."""
    await conn.execute(sa.select(w.c.id).where(w.c.id == workflow_id).with_for_update())
