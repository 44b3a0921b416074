"""Schedules (a taskloom extension): cron expressions, in a time zone, that invoke a
workflow or an agent with a fixed input. Replies show the next slots."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from taskloom.api.deps import Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.models import page_json
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.engine.schedules import next_slot, upcoming, zone
from taskloom.engine.wire import iso
from taskloom.store import schedules as schedule_store
from taskloom.store import workflows as workflow_store
from taskloom.store.records import ScheduleRecord

router = APIRouter(
    prefix="/v1/schedules", tags=["schedules"], responses=COMMON_ERRORS, route_class=StrictJsonRoute
)

UPCOMING = 5  # next slots shown with a schedule
CatchUp = Literal["skip", "catch_up_one"]


class ScheduleInput(BaseModel):
    model_config = ConfigDict(extra="allow")

    text: str = Field(default="", max_length=1_000_000)


def _latest_is_none(value: object) -> object:
    return None if value == "latest" else value


# a deployed version; `latest` (or none) runs whatever is deployed last when a slot fires
ScheduleVersion = Annotated[
    Annotated[int, Field(ge=1, le=2_147_483_647)] | None, BeforeValidator(_latest_is_none)
]


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_id: str = Field(min_length=1, max_length=64, description="a workflow or an agent")
    cron: str = Field(min_length=1, max_length=255, examples=["0 9 * * 1-5"])
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    input: ScheduleInput = Field(default_factory=ScheduleInput)
    version: ScheduleVersion = None
    name: str | None = Field(default=None, max_length=255)
    catch_up: CatchUp = "skip"
    enabled: bool = True


class ScheduleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(default=None, min_length=1, max_length=255)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    input: ScheduleInput | None = None
    version: ScheduleVersion = None
    name: str | None = Field(default=None, max_length=255)
    catch_up: CatchUp | None = None
    enabled: bool | None = None


def schedule_json(schedule: ScheduleRecord) -> dict[str, Any]:
    return {
        "id": schedule.id,
        "organization_id": schedule.organization_id,
        "target_id": schedule.target_id,
        "name": schedule.name,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "input": schedule.input,
        "version": schedule.version,
        "catch_up": schedule.catch_up,
        "enabled": schedule.enabled,
        "next_fire_at": iso(schedule.next_fire_at) if schedule.enabled else None,
        "upcoming": [iso(moment) for moment in upcoming(schedule, UPCOMING)],
        "last_fired_at": iso(schedule.last_fired_at),
        "last_task_id": schedule.last_task_id,
        "created_at": iso(schedule.created_at),
        "updated_at": iso(schedule.updated_at),
    }


@router.post("", status_code=201)
async def create_schedule(
    body: Annotated[ScheduleCreate, Body()], caller: Caller, state: State
) -> JSONBody:
    now = state.clock.now()
    zone(body.timezone)
    first = next_slot(body.cron, body.timezone, now)
    async with state.db.write() as conn:
        await workflow_store.get_workflow(
            conn, organization_id=caller.organization_id, workflow_id=body.target_id
        )
        created = await schedule_store.create_schedule(
            conn,
            {
                "id": str(uuid.uuid4()),
                "organization_id": caller.organization_id,
                "target_id": body.target_id,
                "name": body.name,
                "cron": body.cron,
                "timezone": body.timezone,
                "input": body.input.model_dump(mode="json"),
                "version": body.version,
                "catch_up": body.catch_up,
                "enabled": body.enabled,
                "next_fire_at": first,
                "last_fired_at": None,
                "last_task_id": None,
                "created_at": now,
                "updated_at": now,
            },
        )
    return JSONBody(schedule_json(created), status_code=201)


@router.get("")
async def list_schedules(
    caller: Caller,
    state: State,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JSONBody:
    async with state.db.read() as conn:
        found, total = await schedule_store.list_schedules(
            conn,
            organization_id=caller.organization_id,
            offset=(page - 1) * per_page,
            limit=per_page,
        )
    items = [schedule_json(schedule) for schedule in found]
    return JSONBody(page_json(items, total=total, page=page, per_page=per_page))


@router.get("/{schedule_id}")
async def get_schedule(schedule_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.read() as conn:
        found = await schedule_store.get_schedule(
            conn, organization_id=caller.organization_id, schedule_id=schedule_id
        )
    return JSONBody(schedule_json(found))


@router.patch("/{schedule_id}")
async def update_schedule(
    schedule_id: str, body: Annotated[ScheduleUpdate, Body()], caller: Caller, state: State
) -> JSONBody:
    now = state.clock.now()
    changes = body.model_dump(mode="json", exclude_unset=True)
    async with state.db.write() as conn:
        current = await schedule_store.get_schedule(
            conn, organization_id=caller.organization_id, schedule_id=schedule_id
        )
        cron = changes.get("cron") or current.cron
        timezone = changes.get("timezone") or current.timezone
        zone(timezone)
        # a new timing, or a schedule switched back on, starts from now: no slot of the time
        # it was off (or timed otherwise) counts as missed
        if {"cron", "timezone"} & changes.keys() or (
            changes.get("enabled") and not current.enabled
        ):
            changes["next_fire_at"] = next_slot(cron, timezone, now)
        updated = await schedule_store.update_schedule(
            conn,
            organization_id=caller.organization_id,
            schedule_id=schedule_id,
            values={**changes, "updated_at": now},
        )
    return JSONBody(schedule_json(updated))


@router.delete("/{schedule_id}", status_code=204)
async def delete_schedule(schedule_id: str, caller: Caller, state: State) -> Response:
    async with state.db.write() as conn:
        await schedule_store.delete_schedule(
            conn, organization_id=caller.organization_id, schedule_id=schedule_id
        )
    return Response(status_code=204)
