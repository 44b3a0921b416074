"""Organizations and their API keys (stored as sha256 digests, never in clear)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from taskloom.store.database import Connection
from taskloom.store.records import Principal
from taskloom.store.tables import api_keys, organizations

KEY_PREFIX = "tlk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def ensure_organization(conn: Connection, *, name: str, now: datetime) -> str:
    """The id of the organization with this name, created on first use."""
    found = await conn.execute(sa.select(organizations.c.id).where(organizations.c.name == name))
    if (org_id := found.scalar()) is not None:
        return str(org_id)
    org_id = str(uuid.uuid4())
    await conn.execute(sa.insert(organizations).values(id=org_id, name=name, created_at=now))
    return org_id


async def create_api_key(conn: Connection, *, organization_id: str, now: datetime) -> str:
    """Store a new key's digest and return the key itself: the only time it is seen."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    await conn.execute(
        sa.insert(api_keys).values(
            id=str(uuid.uuid4()),
            organization_id=organization_id,
            key_hash=hash_key(key),
            prefix=key[:10],
            created_at=now,
        )
    )
    return key


async def find_principal(conn: Connection, *, key: str) -> Principal | None:
    digest = hash_key(key)
    row = (
        await conn.execute(
            sa.select(api_keys.c.id, api_keys.c.organization_id, api_keys.c.key_hash).where(
                api_keys.c.key_hash == digest
            )
        )
    ).first()
    # the lookup is by digest; compare in constant time all the same, so that no code path
    # ever compares key material with an early exit
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    return Principal(organization_id=row.organization_id, key_id=row.id)


async def record_key_use(conn: Connection, *, key_id: str, now: datetime, every: timedelta) -> bool:
    """Stamp the key as used now unless it was within `every` (by any process). True when
    written."""
    stamped = await conn.execute(
        sa.update(api_keys)
        .where(
            api_keys.c.id == key_id,
            sa.or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < now - every),
        )
        .values(last_used_at=now)
    )
    return bool(stamped.rowcount)
