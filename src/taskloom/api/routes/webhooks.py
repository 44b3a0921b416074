"""Outbound notifications (webhooks, email, Slack): the organization's webhook signing secret,
and the delivery log of every channel with manual redelivery."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from taskloom.api.deps import Caller, State
from taskloom.api.guard import StrictJsonRoute
from taskloom.api.models import page_json
from taskloom.api.responses import COMMON_ERRORS, JSONBody
from taskloom.engine.wire import iso
from taskloom.store import webhooks as webhook_store
from taskloom.store.records import DeliveryRecord

router = APIRouter(
    prefix="/v1/webhooks", tags=["webhooks"], responses=COMMON_ERRORS, route_class=StrictJsonRoute
)


def delivery_json(delivery: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "task_id": delivery.task_id,
        "event": delivery.event,
        "channel": delivery.channel,
        "target": delivery.target,
        # kept for clients of the webhook-only log
        "url": delivery.target if delivery.channel == "webhook" else None,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": iso(delivery.created_at),
        "delivered_at": iso(delivery.delivered_at),
    }


@router.get("/secret")
async def get_secret(caller: Caller, state: State) -> JSONBody:
    """The `whsec_` secret deliveries are signed with (Standard Webhooks); made on first use."""
    secret = await state.notifications.secret(organization_id=caller.organization_id)
    return JSONBody({"secret": secret})


@router.post("/secret/rotate")
async def rotate_secret(caller: Caller, state: State) -> JSONBody:
    """A new secret; the old one keeps signing beside it for `webhook_secret_grace_s`."""
    secret = await state.notifications.rotate(organization_id=caller.organization_id)
    return JSONBody({"secret": secret})


@router.get("/deliveries")
async def list_deliveries(
    caller: Caller,
    state: State,
    task_id: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JSONBody:
    async with state.db.read() as conn:
        found, total = await webhook_store.list_deliveries(
            conn,
            organization_id=caller.organization_id,
            task_id=task_id,
            offset=(page - 1) * per_page,
            limit=per_page,
        )
    items = [delivery_json(delivery) for delivery in found]
    return JSONBody(page_json(items, total=total, page=page, per_page=per_page))


@router.get("/deliveries/{delivery_id}")
async def get_delivery(delivery_id: str, caller: Caller, state: State) -> JSONBody:
    async with state.db.read() as conn:
        found = await webhook_store.get_delivery(
            conn, organization_id=caller.organization_id, delivery_id=delivery_id
        )
    return JSONBody(delivery_json(found))


@router.post("/deliveries/{delivery_id}/redeliver")
async def redeliver(delivery_id: str, caller: Caller, state: State) -> JSONBody:
    """Send it again at once, under the same `webhook-id`."""
    async with state.db.write() as conn:
        queued = await webhook_store.redeliver(
            conn,
            organization_id=caller.organization_id,
            delivery_id=delivery_id,
            now=state.clock.now(),
        )
    return JSONBody(delivery_json(queued))
