"""A completion webhook's own headers through the HTTP API: shown by name only, stored
sealed, kept when a client sends the definition back, and sent to the receiver in clear."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from taskloom.api.app import create_app
from taskloom.config import Settings
from taskloom.store.database import Database
from taskloom.store.tables import workflows
from tests.conftest import DeployWorkflow, new_key
from tests.conftest import test_settings as make_settings
from tests.support.waiting import eventually
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.workflows import w1

TOKEN = "Bearer receiver-s3cret"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url, egress_allowed_networks=["127.0.0.0/8"], secret_key="the tests' key"
    )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


def notifying(url: str, headers: dict[str, str]) -> dict[str, Any]:
    hook = {"url": url, "headers": headers}
    return {**w1(), "notification_settings": {"on_success": {"webhook": [hook]}}}


async def test_a_header_value_is_shown_redacted_stored_sealed_and_sent_in_clear(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    receiver: WebhookReceiver,
    database_url: str,
) -> None:
    workflow_id = await deploy_workflow(notifying(receiver.url, {"Authorization": TOKEN}))
    shown = await client.get(f"/v1/workflows/{workflow_id}", headers=headers)
    assert TOKEN not in shown.text
    hooks = shown.json()["notification_settings"]["on_success"]["webhook"]
    assert hooks[0]["headers"] == {"Authorization": "********"}

    # a client that edits something else sends the masked value back: the token stays
    body = {**shown.json(), "description": "tells the receiver"}
    patched = await client.patch(f"/v1/workflows/{workflow_id}", json=body, headers=headers)
    assert patched.status_code == 200, patched.text
    deployed = await client.put(f"/v1/workflows/{workflow_id}", headers=headers)
    assert deployed.status_code == 200, deployed.text
    async with Database(database_url) as db, db.read() as conn:
        stored = (
            await conn.execute(sa.select(workflows.c.draft).where(workflows.c.id == workflow_id))
        ).scalar_one()
    assert TOKEN not in json.dumps(stored)

    invoked = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "hi"}}, headers=headers
    )
    assert invoked.status_code == 200, invoked.text

    async def told() -> bool:
        return bool(receiver.received)

    await eventually(told)
    assert receiver.received[0].headers["authorization"] == TOKEN
    log = await client.get(
        "/v1/webhooks/deliveries", params={"task_id": invoked.json()["id"]}, headers=headers
    )
    assert TOKEN not in log.text


async def test_a_header_value_without_a_secret_key_is_a_clear_422(database_url: str) -> None:
    app = create_app(make_settings(database_url))  # no TASKLOOM_SECRET_KEY
    async with app.router.lifespan_context(app):
        key = await new_key(database_url, "acme")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://taskloom") as client:
            created = await client.post(
                "/v1/workflows",
                json=notifying("https://hooks.example.org/in", {"Authorization": TOKEN}),
                headers={"x-api-key": key},
            )
            plain = await client.post(
                "/v1/workflows",
                json=notifying("https://hooks.example.org/in", {}),
                headers={"x-api-key": key},
            )
    assert created.status_code == 422
    assert "TASKLOOM_SECRET_KEY" in created.json()["detail"][0]["msg"]
    assert plain.status_code == 201
