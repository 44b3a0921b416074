"""A `kill -9` of `taskloom serve` while a completion webhook is being retried: after the
restart it is delivered, at least once, every attempt under the same `webhook-id`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.engine.crash.harness import FAST_LEASES, Api, Cluster, until
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.workflows import w1

pytestmark = pytest.mark.crash

SERVE = {
    **FAST_LEASES,
    "egress_allowed_networks": '["127.0.0.0/8"]',
    "webhook_first_backoff_s": "0.5",
}


async def test_a_webhook_retried_across_a_kill_is_delivered_under_one_id(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    with WebhookReceiver() as receiver:
        receiver.statuses.extend([500] * 3)
        server, base = cluster.serve(**SERVE)
        api = Api(base, cluster.key(), http)
        hooks = {"on_success": {"webhook": [{"url": receiver.url}]}}
        workflow_id = await api.deploy({**w1(), "notification_settings": hooks})
        task_id = await api.invoke(workflow_id, "hi")

        async def retried() -> bool:
            return len(receiver.received) >= 2

        await until(retried, within_s=30, what="the webhook refused twice")
        server.kill()
        _, base = cluster.serve(**SERVE)
        api = Api(base, api.key, http)

        async def delivered() -> dict[str, Any] | None:
            reply = await http.get(
                f"{base}/v1/webhooks/deliveries", params={"task_id": task_id}, headers=api.headers
            )
            items = reply.json()["items"]
            return items[0] if items and items[0]["status"] == "delivered" else None

        delivery = await until(delivered, within_s=30, what="the webhook delivered")
    ids = {got.webhook_id for got in receiver.received}
    assert ids == {delivery["id"]}
    assert len(receiver.received) >= 4  # three refusals, then the one accepted
    assert receiver.received[-1].body == receiver.received[0].body
