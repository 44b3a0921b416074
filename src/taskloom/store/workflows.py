"""Workflow queries: the editable draft and its immutable, numbered versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection
from taskloom.store.records import WorkflowRecord
from taskloom.store.tables import workflow_versions, workflows

w = workflows
v = workflow_versions
_GET = sa.select(w).where(
    w.c.id == sa.bindparam("p_id"), w.c.organization_id == sa.bindparam("p_org")
)


async def create_workflow(
    conn: Connection,
    *,
    workflow_id: str,
    organization_id: str,
    name: str,
    draft: dict[str, Any],
    now: datetime,
) -> WorkflowRecord:
    values: dict[str, Any] = {
        "id": workflow_id,
        "organization_id": organization_id,
        "name": name,
        "draft": draft,
        "has_pending_changes": True,
        "latest_version": None,
        "status": "ACTIVE",
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(sa.insert(w).values(values))
    return WorkflowRecord.from_row(values)


async def get_workflow(
    conn: Connection, *, organization_id: str, workflow_id: str
) -> WorkflowRecord:
    params = {"p_id": workflow_id, "p_org": organization_id}
    row = (await conn.execute(_GET, params)).mappings().one_or_none()
    if row is None:
        raise errors.NotFound(f"workflow {workflow_id} not found")
    return WorkflowRecord.from_row(row)


async def list_workflows(
    conn: Connection, *, organization_id: str, page: int, per_page: int
) -> tuple[list[WorkflowRecord], int]:
    where = w.c.organization_id == organization_id
    total = (await conn.execute(sa.select(sa.func.count()).select_from(w).where(where))).scalar()
    rows = await conn.execute(
        sa.select(w)
        .where(where)
        .order_by(w.c.created_at.desc(), w.c.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [WorkflowRecord.from_row(r) for r in rows.mappings()], int(total or 0)


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
) -> WorkflowRecord:
    result = await conn.execute(
        sa.update(w)
        .where(w.c.id == workflow_id, w.c.organization_id == organization_id)
        .values(
            name=name,
            draft=draft,
            status=status,
            has_pending_changes=pending,
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        raise errors.NotFound(f"workflow {workflow_id} not found")
    return await get_workflow(conn, organization_id=organization_id, workflow_id=workflow_id)


async def deploy_workflow(
    conn: Connection, *, organization_id: str, workflow_id: str, now: datetime
) -> WorkflowRecord:
    """Snapshot the draft as the next version. One UPDATE takes the number and the row lock,
    so concurrent deploys each get their own version."""
    bumped = (
        await conn.execute(
            sa.update(w)
            .where(w.c.id == workflow_id, w.c.organization_id == organization_id)
            .values(
                latest_version=sa.func.coalesce(w.c.latest_version, 0) + 1,
                has_pending_changes=False,
                updated_at=now,
            )
            .returning(w.c.latest_version, w.c.draft)
        )
    ).first()
    if bumped is None:
        raise errors.NotFound(f"workflow {workflow_id} not found")
    await conn.execute(
        sa.insert(v).values(
            workflow_id=workflow_id,
            version=bumped.latest_version,
            definition=bumped.draft,
            created_at=now,
        )
    )
    return await get_workflow(conn, organization_id=organization_id, workflow_id=workflow_id)


async def get_version(conn: Connection, *, workflow_id: str, version: int) -> dict[str, Any]:
    found = await conn.execute(
        sa.select(v.c.definition).where(v.c.workflow_id == workflow_id, v.c.version == version)
    )
    definition = found.scalar()
    if definition is None:
        raise errors.NotFound(f"workflow {workflow_id} has no version {version}")
    return dict(definition)


async def delete_workflow(conn: Connection, *, organization_id: str, workflow_id: str) -> None:
    await get_workflow(conn, organization_id=organization_id, workflow_id=workflow_id)
    await conn.execute(sa.delete(v).where(v.c.workflow_id == workflow_id))
    await conn.execute(sa.delete(w).where(w.c.id == workflow_id))
