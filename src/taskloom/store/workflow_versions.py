"""The deployed versions of a workflow or agent: the list (numbers and dates, no bodies), and
one version with its definition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom import errors
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


@dataclass(frozen=True, slots=True, kw_only=True)
class DeployedVersion:
    version: int
    created_at: datetime
    definition: dict[str, Any]  # the immutable snapshot the deploy took


async def read_version(conn: Connection, *, workflow_id: str, version: int) -> DeployedVersion:
    """One deployed version with its definition. The caller checks first that the workflow is
    the organization's."""
    row = (
        await conn.execute(
            sa.select(v.c.version, v.c.created_at, v.c.definition).where(
                v.c.workflow_id == workflow_id, v.c.version == version
            )
        )
    ).first()
    if row is None:
        raise errors.NotFound(f"{workflow_id} has no version {version}")
    return DeployedVersion(
        version=row.version, created_at=row.created_at, definition=dict(row.definition)
    )
