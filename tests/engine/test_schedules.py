"""Schedules on a manual clock, on SQLite and PostgreSQL: a slot fires when it comes, once,
however many sweepers race for it or however often it is retried; slots missed while the
server was down are skipped or caught up once; cron follows its time zone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from taskloom.engine.schedules import Schedules, next_slot
from taskloom.store import schedules as schedule_store
from taskloom.store.database import Database
from taskloom.store.records import ScheduleRecord
from taskloom.store.tables import schedules as schedules_table
from taskloom.store.tables import tasks as tasks_table
from tests.conftest import test_settings as make_settings
from tests.support.engine import Engine, open_engine, summarizer_workflow

HOURLY = "0 * * * *"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Engine]:
    async with open_engine(make_settings(database_url)) as engine:
        yield engine


async def schedule(engine: Engine, *, catch_up: str = "skip", cron: str = HOURLY) -> str:
    target = await engine.deploy(summarizer_workflow())
    now = engine.clock.now()
    schedule_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": schedule_id,
        "organization_id": engine.organization_id,
        "target_id": target,
        "name": None,
        "cron": cron,
        "timezone": "UTC",
        "input": {"text": "tick"},
        "version": None,
        "catch_up": catch_up,
        "enabled": True,
        "next_fire_at": next_slot(cron, "UTC", now),
        "last_fired_at": None,
        "last_task_id": None,
        "created_at": now,
        "updated_at": now,
    }
    async with engine.db.write() as conn:
        await schedule_store.create_schedule(conn, values)
    return schedule_id


async def current(engine: Engine, schedule_id: str) -> ScheduleRecord:
    async with engine.db.read() as conn:
        return await schedule_store.get_schedule(
            conn, organization_id=engine.organization_id, schedule_id=schedule_id
        )


async def task_count(db: Database) -> int:
    async with db.read() as conn:
        return int(
            (await conn.execute(sa.select(sa.func.count()).select_from(tasks_table))).scalar_one()
        )


def sweeper(engine: Engine, db: Database | None = None) -> Schedules:
    return Schedules(db or engine.db, engine.intake, engine.clock, grace_s=60)


async def test_a_slot_fires_when_it_comes_and_the_schedule_moves_on(engine: Engine) -> None:
    schedule_id = await schedule(engine)
    first = (await current(engine, schedule_id)).next_fire_at
    assert first == datetime(2026, 1, 1, 1, tzinfo=UTC)  # the manual clock starts at 00:00

    await engine.clock.advance(3599)
    assert await sweeper(engine).fire_due() == 0
    await engine.clock.advance(1)
    assert await sweeper(engine).fire_due() == 1

    moved = await current(engine, schedule_id)
    assert moved.next_fire_at == first + timedelta(hours=1)
    assert moved.last_fired_at == first
    assert moved.last_task_id is not None
    task = await engine.task(moved.last_task_id)
    assert task.input == {"text": "tick"}
    assert task.request["source"] == "schedule"


async def test_three_sweepers_racing_for_a_slot_start_one_task(
    engine: Engine, database_url: str
) -> None:
    schedule_id = await schedule(engine)
    await engine.clock.advance(3600)
    async with Database(database_url) as second, Database(database_url) as third:
        sweepers = [sweeper(engine), sweeper(engine, second), sweeper(engine, third)]
        fired = await asyncio.gather(*(s.fire_due() for s in sweepers))

    assert sum(fired) == 1
    assert await task_count(engine.db) == 1
    assert (await current(engine, schedule_id)).next_fire_at == datetime(2026, 1, 1, 2, tzinfo=UTC)


async def test_a_slot_fired_again_after_a_crash_before_the_move_is_the_same_task(
    engine: Engine,
) -> None:
    schedule_id = await schedule(engine)
    await engine.clock.advance(3600)
    assert await sweeper(engine).fire_due() == 1
    fired = await current(engine, schedule_id)
    async with engine.db.write() as conn:  # as if the process died before moving it on
        await conn.execute(
            sa.update(schedules_table)
            .where(schedules_table.c.id == schedule_id)
            .values(next_fire_at=fired.last_fired_at)
        )

    await sweeper(engine).fire_due()

    assert await task_count(engine.db) == 1
    assert (await current(engine, schedule_id)).last_task_id == fired.last_task_id


@pytest.mark.parametrize(("catch_up", "tasks"), [("skip", 0), ("catch_up_one", 1)])
async def test_slots_missed_while_down_are_skipped_or_caught_up_once(
    engine: Engine, catch_up: str, tasks: int
) -> None:
    schedule_id = await schedule(engine, catch_up=catch_up)

    await engine.clock.advance(3 * 3600 + 1800)  # down across three slots
    await sweeper(engine).fire_due()
    await sweeper(engine).fire_due()

    assert await task_count(engine.db) == tasks
    moved = await current(engine, schedule_id)
    assert moved.next_fire_at == datetime(2026, 1, 1, 4, tzinfo=UTC)  # the first one after now


async def test_a_disabled_schedule_does_not_fire(engine: Engine) -> None:
    schedule_id = await schedule(engine)
    async with engine.db.write() as conn:
        await schedule_store.update_schedule(
            conn,
            organization_id=engine.organization_id,
            schedule_id=schedule_id,
            values={"enabled": False},
        )
    await engine.clock.advance(7200)
    assert await sweeper(engine).fire_due() == 0


def test_cron_follows_its_time_zone_across_daylight_saving() -> None:
    winter = next_slot("0 9 * * *", "Europe/Paris", datetime(2026, 1, 10, tzinfo=UTC))
    summer = next_slot("0 9 * * *", "Europe/Paris", datetime(2026, 7, 10, tzinfo=UTC))
    assert winter == datetime(2026, 1, 10, 8, tzinfo=UTC)
    assert summer == datetime(2026, 7, 10, 7, tzinfo=UTC)
