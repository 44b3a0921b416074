"""/v1/webhooks: the signing secret and its rotation, the delivery log filtered by task, and
a manual redelivery under the same `webhook-id`, with the server's own delivery sweep."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from taskloom.config import Settings
from tests.conftest import DeployWorkflow
from tests.conftest import test_settings as make_settings
from tests.support.waiting import eventually
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.workflows import w1


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, egress_allowed_networks=["127.0.0.0/8"])


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


async def test_the_secret_rotates_and_deliveries_are_logged_and_can_be_sent_again(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    other_key: str,
    deploy_workflow: DeployWorkflow,
    receiver: WebhookReceiver,
) -> None:
    secret = (await client.get("/v1/webhooks/secret", headers=headers)).json()["secret"]
    assert secret.startswith("whsec_")
    assert (await client.get("/v1/webhooks/secret", headers=headers)).json()["secret"] == secret
    theirs = await client.get("/v1/webhooks/secret", headers={"x-api-key": other_key})
    assert theirs.json()["secret"] != secret
    rotated = (await client.post("/v1/webhooks/secret/rotate", headers=headers)).json()["secret"]
    assert rotated != secret
    receiver.secret = rotated

    hooks = {"on_success": {"webhook": [{"url": receiver.url}]}}
    workflow_id = await deploy_workflow({**w1(), "notification_settings": hooks})
    task = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "hi"}}, headers=headers
    )
    task_id = task.json()["id"]

    async def delivered() -> dict[str, Any] | None:
        listed = await client.get(
            "/v1/webhooks/deliveries", params={"task_id": task_id}, headers=headers
        )
        items = listed.json()["items"]
        return items[0] if items and items[0]["status"] == "delivered" else None

    delivery = await eventually(delivered)
    assert delivery["event"] == "task.completed"
    assert receiver.received[0].verified is not None

    again = await client.post(
        f"/v1/webhooks/deliveries/{delivery['id']}/redeliver", headers=headers
    )
    assert again.status_code == 200
    await eventually(lambda: _count(receiver, 2))
    assert {r.webhook_id for r in receiver.received} == {delivery["id"]}
    hidden = await client.get(
        f"/v1/webhooks/deliveries/{delivery['id']}", headers={"x-api-key": other_key}
    )
    assert hidden.status_code == 404


async def _count(receiver: WebhookReceiver, n: int) -> bool:
    return len(receiver.received) >= n
