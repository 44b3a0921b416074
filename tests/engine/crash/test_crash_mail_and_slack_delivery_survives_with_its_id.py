"""A `kill -9` of `taskloom serve` while a mail or a Slack message is being retried: after
the restart it is delivered, every attempt under the same id (the mail's Message-ID)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.engine.crash.harness import FAST_LEASES, Api, Cluster, until
from tests.support.slack_api import Reply, SlackApi
from tests.support.smtp_server import SmtpServer
from tests.support.workflows import w1

pytestmark = pytest.mark.crash

TOKEN = "xoxb-crash-token"
SERVE = {
    **FAST_LEASES,
    "egress_allowed_networks": '["127.0.0.0/8"]',
    "webhook_first_backoff_s": "0.5",
    "secret_key": "the crash tests' secret key",
}


async def delivered_after_a_kill(
    cluster: Cluster,
    http: httpx.AsyncClient,
    notify: dict[str, Any],
    attempts: Any,
    **serve: str,
) -> dict[str, Any]:
    """Invoke a workflow that notifies, kill the server once `attempts()` counts two refused
    attempts, restart it, and return the delivery once it is delivered."""
    server, base = cluster.serve(**SERVE, **serve)
    api = Api(base, cluster.key(), http)
    workflow_id = await api.deploy({**w1(), "notification_settings": {"on_success": notify}})
    task_id = await api.invoke(workflow_id, "hi")

    async def retried() -> bool:
        return bool(attempts() >= 2)

    await until(retried, within_s=30, what="two refused attempts")
    server.kill()
    _, base = cluster.serve(**SERVE, **serve)

    async def delivered() -> dict[str, Any] | None:
        reply = await http.get(
            f"{base}/v1/webhooks/deliveries", params={"task_id": task_id}, headers=api.headers
        )
        items = reply.json()["items"]
        return items[0] if items and items[0]["status"] == "delivered" else None

    found: dict[str, Any] = await until(delivered, within_s=30, what="the delivery delivered")
    return found


async def test_a_mail_retried_across_a_kill_is_delivered_under_one_message_id(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    with SmtpServer() as smtp:
        smtp.replies.extend(["451 4.3.0 try later"] * 3)
        delivery = await delivered_after_a_kill(
            cluster,
            http,
            {"email": [{"to": ["ops@example.org"]}]},
            lambda: len(smtp.tried),
            smtp_host="127.0.0.1",
            smtp_port=str(smtp.port),
            smtp_tls="none",
        )
    assert delivery["channel"] == "email"
    assert len(smtp.received) >= 1  # at least once
    assert len(smtp.tried) >= 4  # three refusals, then the one accepted
    assert {mail.message["Message-ID"] for mail in smtp.tried} == {f"<{delivery['id']}@taskloom>"}


async def test_a_slack_post_retried_across_a_kill_is_delivered_once_accepted(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    with SlackApi(token=TOKEN) as slack:
        slack.replies.extend([Reply(status=500, body={"ok": False})] * 3)
        notify = {"slack": [{"channels": ["#ops"], "credentials": {"bot_token": TOKEN}}]}
        delivery = await delivered_after_a_kill(
            cluster, http, notify, lambda: len(slack.posts), slack_api_url=slack.url
        )
    assert (delivery["channel"], delivery["target"]) == ("slack", "#ops")
    assert len(slack.posts) >= 4  # three refusals, then the one accepted
    assert {post.authorization for post in slack.posts} == {f"Bearer {TOKEN}"}
    assert slack.posts[-1].body == slack.posts[0].body
