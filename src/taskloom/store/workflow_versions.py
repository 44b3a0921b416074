"""The deployed versions of a workflow or agent, as a list (numbers and dates, no bodies)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from taskloom.store.database import Connection
from taskloom.store.tables import workflow_versions

v = workflow_versions


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionRecord:
    version: int
    created_at: datetime  # when it was deployed


async def list_versions(conn: Connection, *, workflow_id: str) -> list[VersionRecord]:
    """Oldest first. The caller checks first that the workflow is the organization's."""
    rows = await conn.execute(
        sa.select(v.c.version, v.c.created_at)
        .where(v.c.workflow_id == workflow_id)
        .order_by(v.c.version)
    )
    return [VersionRecord(version=row.version, created_at=row.created_at) for row in rows]
