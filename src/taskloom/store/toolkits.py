"""Toolkit queries: every one scoped by organization."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection
from taskloom.store.records import ToolkitRecord
from taskloom.store.tables import toolkits

k = toolkits


async def create_toolkit(
    conn: Connection,
    *,
    toolkit_id: str,
    organization_id: str,
    name: str,
    created_by: str | None,
    spec: dict[str, Any],
    now: datetime,
) -> ToolkitRecord:
    values: dict[str, Any] = {
        "id": toolkit_id,
        "organization_id": organization_id,
        "name": name,
        "created_by": created_by,
        "spec": spec,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(sa.insert(k).values(values))
    return ToolkitRecord.from_row(values)


async def get_toolkit(conn: Connection, *, organization_id: str, toolkit_id: str) -> ToolkitRecord:
    row = (
        (
            await conn.execute(
                sa.select(k).where(k.c.id == toolkit_id, k.c.organization_id == organization_id)
            )
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise errors.NotFound(f"toolkit {toolkit_id} not found")
    return ToolkitRecord.from_row(row)


async def list_toolkits(
    conn: Connection, *, organization_id: str, page: int, per_page: int
) -> tuple[list[ToolkitRecord], int]:
    where = k.c.organization_id == organization_id
    total = (await conn.execute(sa.select(sa.func.count()).select_from(k).where(where))).scalar()
    rows = await conn.execute(
        sa.select(k)
        .where(where)
        .order_by(k.c.created_at.desc(), k.c.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [ToolkitRecord.from_row(r) for r in rows.mappings()], int(total or 0)


async def update_toolkit(
    conn: Connection,
    *,
    organization_id: str,
    toolkit_id: str,
    name: str,
    spec: dict[str, Any],
    now: datetime,
) -> ToolkitRecord:
    changed = await conn.execute(
        sa.update(k)
        .where(k.c.id == toolkit_id, k.c.organization_id == organization_id)
        .values(name=name, spec=spec, updated_at=now)
    )
    if changed.rowcount != 1:
        raise errors.NotFound(f"toolkit {toolkit_id} not found")
    return await get_toolkit(conn, organization_id=organization_id, toolkit_id=toolkit_id)


async def delete_toolkit(conn: Connection, *, organization_id: str, toolkit_id: str) -> None:
    deleted = await conn.execute(
        sa.delete(k).where(k.c.id == toolkit_id, k.c.organization_id == organization_id)
    )
    if deleted.rowcount != 1:
        raise errors.NotFound(f"toolkit {toolkit_id} not found")
