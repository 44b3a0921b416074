"""API keys as an operator sees them: list, find by id or prefix, revoke. Never the key itself.

Revoking deletes the key's row. A server that checked the key shortly before may keep
accepting it for up to `key_cache_s` (30 s by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.store.database import Connection
from taskloom.store.keys import hash_key
from taskloom.store.tables import api_keys, organizations

PREFIX_LENGTH = 10  # what `create_api_key` keeps of a key


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyRecord:
    id: str
    prefix: str  # the key's first characters, enough to recognise it
    organization_id: str
    organization_name: str
    created_at: datetime
    last_used_at: datetime | None  # to within a minute or so; None: never used


def _select() -> sa.Select[Any]:
    return (
        sa.select(
            api_keys.c.id,
            api_keys.c.prefix,
            api_keys.c.organization_id,
            organizations.c.name.label("organization_name"),
            api_keys.c.created_at,
            api_keys.c.last_used_at,
        )
        .join(organizations, organizations.c.id == api_keys.c.organization_id)
        .order_by(api_keys.c.created_at, api_keys.c.id)
    )


def _record(row: sa.Row[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        prefix=row.prefix,
        organization_id=row.organization_id,
        organization_name=row.organization_name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


async def list_api_keys(
    conn: Connection, *, organization_name: str | None = None
) -> list[ApiKeyRecord]:
    query = _select()
    if organization_name is not None:
        query = query.where(organizations.c.name == organization_name)
    return [_record(row) for row in await conn.execute(query)]


async def find_api_key(conn: Connection, *, ref: str) -> ApiKeyRecord:
    """The one key whose id is `ref`, or whose prefix starts with it (NotFound, or
    InvalidRequest when a prefix names several keys)."""
    exact = sa.or_(api_keys.c.id == ref, api_keys.c.key_hash == hash_key(ref))  # or the key
    found = (await conn.execute(_select().where(exact))).first()
    if found is not None:
        return _record(found)
    head = ref[:PREFIX_LENGTH]
    escaped = head.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = _select().where(api_keys.c.prefix.like(escaped + "%", escape="\\"))
    matches = [_record(row) for row in await conn.execute(query)]
    if not matches:
        raise errors.NotFound(f"no API key with id or prefix {ref!r}")
    if len(matches) > 1:
        raise errors.InvalidRequest(f"{len(matches)} API keys start with {ref!r}: give the key id")
    return matches[0]


async def delete_api_key(conn: Connection, *, key_id: str) -> None:
    deleted = await conn.execute(sa.delete(api_keys).where(api_keys.c.id == key_id))
    if deleted.rowcount != 1:
        raise errors.NotFound(f"no API key {key_id}")
