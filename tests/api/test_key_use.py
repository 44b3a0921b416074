"""A key's `last used` time: written when it authenticates, at most once per
`key_use_record_s` per key, never once per request. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from taskloom.store import key_admin
from taskloom.store import keys as key_store
from taskloom.store.database import Database


async def last_used(database_url: str) -> dict[str, datetime | None]:
    async with Database(database_url) as db, db.read() as conn:
        return {k.prefix: k.last_used_at for k in await key_admin.list_api_keys(conn)}


async def test_a_request_stamps_its_key_and_a_second_one_writes_nothing(
    client: httpx.AsyncClient, database_url: str, api_key: str, other_key: str
) -> None:
    assert (await last_used(database_url))[api_key[:10]] is None

    assert (await client.get("/v1/workflows", headers={"x-api-key": api_key})).status_code == 200
    first = (await last_used(database_url))[api_key[:10]]
    assert first is not None
    assert (await last_used(database_url))[other_key[:10]] is None  # only the key that was used

    assert (await client.get("/v1/workflows", headers={"x-api-key": api_key})).status_code == 200
    assert (await last_used(database_url))[api_key[:10]] == first


async def test_record_key_use_writes_once_per_window(
    client: httpx.AsyncClient, database_url: str, api_key: str
) -> None:
    every = timedelta(seconds=60)
    now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    async with Database(database_url) as db:
        async with db.read() as conn:
            key_id = (await key_admin.find_api_key(conn, ref=api_key)).id

        async def record(at: datetime) -> bool:
            async with db.write() as conn:
                return await key_store.record_key_use(conn, key_id=key_id, now=at, every=every)

        assert await record(now) is True
        assert await record(now + timedelta(seconds=30)) is False  # e.g. another process
        assert await record(now + timedelta(seconds=61)) is True
    assert (await last_used(database_url))[api_key[:10]] == now + timedelta(seconds=61)


async def test_an_unknown_key_stamps_nothing(
    client: httpx.AsyncClient, database_url: str, api_key: str
) -> None:
    reply = await client.get("/v1/workflows", headers={"x-api-key": "tlk_not-a-key"})
    assert reply.status_code == 401
    assert set((await last_used(database_url)).values()) == {None}
