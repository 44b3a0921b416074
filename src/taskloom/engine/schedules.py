"""Schedules: cron expressions, in a time zone, that invoke a workflow or an agent.

Each slot fires once, whatever the number of processes: the invoke carries an idempotency key
made of the schedule and the slot (two processes firing one slot get one task), and moving
the schedule to its next slot is an UPDATE conditional on the slot (one process moves it).
A crash between the two re-fires the slot at the next sweep, which the key makes harmless.

A slot found more than `grace_s` late (the server was down across it) follows the schedule's
`catch_up`: `skip` drops what was missed, `catch_up_one` fires once for all of it; either
way the schedule moves on to its first slot after now.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from taskloom import errors
from taskloom.clock import Clock
from taskloom.engine.intake import Intake, Invocation
from taskloom.engine.wire import iso
from taskloom.store import schedules as schedule_store
from taskloom.store.database import Database
from taskloom.store.records import ScheduleRecord

logger = logging.getLogger(__name__)

CATCH_UP = ("skip", "catch_up_one")
_FIRE_BATCH = 100


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise errors.InvalidRequest(f"unknown time zone {name!r}") from exc


def slots(cron: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """The cron's slots strictly after `after`, in UTC (daylight saving handled in the zone)."""
    try:
        times = CronSim(cron, after.astimezone(zone(timezone)))
    except CronSimError as exc:
        raise errors.InvalidRequest(f"invalid cron expression {cron!r}: {exc}") from exc
    return (moment.astimezone(UTC) for moment in times)


def next_slot(cron: str, timezone: str, after: datetime) -> datetime | None:
    return next(slots(cron, timezone, after), None)


def upcoming(schedule: ScheduleRecord, count: int) -> list[datetime]:
    if not schedule.enabled or schedule.next_fire_at is None:
        return []
    first = schedule.next_fire_at
    later = islice(slots(schedule.cron, schedule.timezone, first), count - 1)
    return [first, *later]


class Schedules:
    def __init__(
        self, db: Database, intake: Intake, clock: Clock, *, grace_s: float = 60.0
    ) -> None:
        self._db = db
        self._intake = intake
        self._clock = clock
        self._grace = timedelta(seconds=grace_s)

    async def fire_due(self) -> int:
        """Fire every slot that has come; how many tasks this call started."""
        now = self._clock.now()
        async with self._db.read() as conn:
            due = await schedule_store.due_schedules(
                conn, now=now, limit=_FIRE_BATCH, skip_locked=False
            )
        fired = 0
        for schedule in due:
            fired += await self._fire(schedule, now)
        return fired

    async def _fire(self, schedule: ScheduleRecord, now: datetime) -> int:
        slot = schedule.next_fire_at
        assert slot is not None  # due_schedules selects only scheduled slots
        missed = now - slot > self._grace
        following = next_slot(schedule.cron, schedule.timezone, now if missed else slot)
        task_id = None
        if not missed or schedule.catch_up == "catch_up_one":
            task_id = await self._invoke(schedule, slot)
        async with self._db.write() as conn:
            moved = await schedule_store.advance(
                conn,
                schedule_id=schedule.id,
                slot=slot,
                next_fire_at=following,
                fired_task_id=task_id,
                now=now,
            )
        if moved and task_id is not None:
            logger.info(
                "schedule fired",
                extra={
                    "event": "schedule_fired",
                    "schedule_id": schedule.id,
                    "slot": iso(slot),
                    "task_id": task_id,
                },
            )
        if missed:
            logger.warning(
                "schedule slot missed",
                extra={
                    "event": "schedule_missed",
                    "schedule_id": schedule.id,
                    "slot": iso(slot),
                    "caught_up": task_id is not None,
                },
            )
        return int(moved and task_id is not None)

    async def _invoke(self, schedule: ScheduleRecord, slot: datetime) -> str | None:
        try:
            accepted = await self._intake.invoke(
                Invocation(
                    organization_id=schedule.organization_id,
                    workflow_id=schedule.target_id,
                    version=schedule.version,
                    input=schedule.input,
                    request={
                        "source": "schedule",
                        "payload_extension": {"schedule_id": schedule.id, "slot": iso(slot)},
                    },
                    # the same slot fired twice (two processes, or a crash before the schedule
                    # moved on) is the same task
                    idempotency_key=f"schedule:{schedule.id}:{iso(slot)}",
                )
            )
        except (errors.NotFound, errors.Conflict, errors.InvalidRequest) as exc:
            # the target is gone or inactive: this slot is lost, the schedule goes on
            logger.warning(
                "schedule could not invoke",
                extra={"event": "schedule_failed", "schedule_id": schedule.id, "error": str(exc)},
            )
            return None
        return accepted.task.id
