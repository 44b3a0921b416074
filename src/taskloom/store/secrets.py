"""Named secrets of an organization (provider keys), stored as ciphertext only."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection
from taskloom.store.tables import secrets

s = secrets


async def put_secret(
    conn: Connection, *, organization_id: str, name: str, ciphertext: str, now: datetime
) -> None:
    """Create or replace: the newest value of a name is the one used."""
    where = sa.and_(s.c.organization_id == organization_id, s.c.name == name)
    replaced = await conn.execute(
        sa.update(s).where(where).values(ciphertext=ciphertext, updated_at=now)
    )
    if replaced.rowcount == 0:
        await conn.execute(
            sa.insert(s).values(
                organization_id=organization_id,
                name=name,
                ciphertext=ciphertext,
                created_at=now,
                updated_at=now,
            )
        )


async def get_ciphertext(conn: Connection, *, organization_id: str, name: str) -> str:
    found = await conn.execute(
        sa.select(s.c.ciphertext).where(s.c.organization_id == organization_id, s.c.name == name)
    )
    ciphertext = found.scalar()
    if ciphertext is None:
        raise errors.NotFound(f"secret {name!r} not found")
    return str(ciphertext)


async def list_names(conn: Connection, *, organization_id: str) -> list[tuple[str, datetime]]:
    rows = await conn.execute(
        sa.select(s.c.name, s.c.updated_at)
        .where(s.c.organization_id == organization_id)
        .order_by(s.c.name)
    )
    return [(row.name, row.updated_at) for row in rows]


async def delete_secret(conn: Connection, *, organization_id: str, name: str) -> None:
    deleted = await conn.execute(
        sa.delete(s).where(s.c.organization_id == organization_id, s.c.name == name)
    )
    if deleted.rowcount == 0:
        raise errors.NotFound(f"secret {name!r} not found")
