"""Email and Slack notifications through the whole server: its own delivery sweep mails a
real SMTP server on loopback, the link in the mail decides the task through the HTTP route,
and the delivery log shows each channel and target, with redelivery under the same id."""

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
from tests.support.slack_api import SlackApi
from tests.support.smtp_server import SmtpServer
from tests.support.waiting import eventually
from tests.support.workflows import code_node

TOKEN = "xoxb-api-test-token"
PUBLIC = "http://links.example"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as started:
        yield started


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    with SlackApi(token=TOKEN) as started:
        yield started


@pytest.fixture
def settings(database_url: str, smtp: SmtpServer, slack: SlackApi) -> Settings:
    return make_settings(
        database_url,
        egress_allowed_networks=["127.0.0.0/8"],
        public_url=PUBLIC,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_tls="none",
        smtp_from="taskloom@example.org",
        slack_api_url=slack.url,
        secret_key="the api tests' secret key",
    )


def approval(**details: Any) -> dict[str, Any]:
    wait = {
        "id": "ask",
        "type": "wait",
        "name": "ask",
        "definition": {"type": "hitl", "definition": {"subject": "Refund?", **details}},
        "next_node_ids": ["after"],
    }
    after = code_node("after", "return 'decided by ' + input['decided_by']")
    return {"name": "refund", "orchestration_nodes": [wait, after]}


async def invoke(client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str) -> str:
    invoked = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        json={"input": {"text": "refund 40 EUR"}},
        headers=headers,
    )
    assert invoked.status_code == 200, invoked.text
    task_id: str = invoked.json()["id"]
    return task_id


async def task_json(client: httpx.AsyncClient, headers: dict[str, str], task_id: str) -> Any:
    reply = await client.get(f"/v1/tasks/{task_id}", params={"wait": 20}, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_the_approve_link_of_a_mail_decides_the_task_through_the_http_route(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    smtp: SmtpServer,
) -> None:
    workflow_id = await deploy_workflow(approval(to=["approver@example.org"]))
    task_id = await invoke(client, headers, workflow_id)

    async def mailed() -> bool:
        return bool(smtp.received)

    await eventually(mailed)  # the server's own delivery sweep sent it
    (mail,) = smtp.received
    assert mail.rcpt_tos == ["approver@example.org"]
    assert mail.message["Subject"] == "Refund?"
    assert "refund 40 EUR" in mail.text
    approve = next(
        line.split(": ", 1)[1] for line in mail.text.splitlines() if line.startswith("Approve: ")
    )
    assert approve.startswith(f"{PUBLIC}/v1/hitl/links/")
    assert (await task_json(client, headers, task_id))["status"] == "paused"

    decided = await client.post(approve.removeprefix(PUBLIC))
    assert decided.status_code == 200, decided.text
    done = await task_json(client, headers, task_id)
    assert (done["status"], done["result"]) == ("completed", "decided by approval link")


async def test_the_delivery_log_shows_channel_and_target_and_a_mail_can_be_sent_again(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    smtp: SmtpServer,
    slack: SlackApi,
) -> None:
    notify = {
        "email": [{"to": ["ops@example.org"], "subject": "done"}],
        "slack": [{"channels": ["#ops"], "credentials": {"bot_token": TOKEN}}],
    }
    workflow = {
        "name": "told",
        "orchestration_nodes": [code_node("only", "return 'ok'")],
        "notification_settings": {"on_success": notify},
    }
    workflow_id = await deploy_workflow(workflow)
    task_id = await invoke(client, headers, workflow_id)

    async def delivered() -> list[dict[str, Any]] | None:
        listed = await client.get(
            "/v1/webhooks/deliveries", params={"task_id": task_id}, headers=headers
        )
        items: list[dict[str, Any]] = listed.json()["items"]
        done = len(items) == 2 and all(item["status"] == "delivered" for item in items)
        return items if done else None

    items = sorted(await eventually(delivered), key=lambda item: item["channel"])
    assert [(i["channel"], i["target"], i["url"]) for i in items] == [
        ("email", "ops@example.org", None),
        ("slack", "#ops", None),
    ]
    assert slack.posts[0].authorization == f"Bearer {TOKEN}"

    mail_id = items[0]["id"]
    again = await client.post(f"/v1/webhooks/deliveries/{mail_id}/redeliver", headers=headers)
    assert again.status_code == 200, again.text

    async def mailed_twice() -> bool:
        return len(smtp.received) == 2

    await eventually(mailed_twice)
    assert {m.message["Message-ID"] for m in smtp.received} == {f"<{mail_id}@taskloom>"}


async def test_a_workflow_keeps_and_shows_its_slack_token_only_sealed(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    database_url: str,
) -> None:
    workflow_id = await deploy_workflow(
        approval(channels=["#approvals"], credentials={"bot_token": TOKEN})
    )
    shown = await client.get(f"/v1/workflows/{workflow_id}", headers=headers)
    assert shown.status_code == 200
    assert TOKEN not in shown.text
    details = shown.json()["orchestration_nodes"][0]["definition"]["definition"]
    assert set(details["credentials"]) == {"sealed"}
    async with Database(database_url) as db, db.read() as conn:
        stored = (
            await conn.execute(sa.select(workflows.c.draft).where(workflows.c.id == workflow_id))
        ).scalar_one()
    assert TOKEN not in json.dumps(stored)


async def test_slack_credentials_without_a_secret_key_are_refused_with_a_clear_422(
    database_url: str, slack: SlackApi
) -> None:
    settings = make_settings(database_url)  # no TASKLOOM_SECRET_KEY
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        key = await new_key(database_url, "acme")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://taskloom") as client:
            created = await client.post(
                "/v1/workflows",
                json=approval(channels=["#approvals"], credentials={"bot_token": TOKEN}),
                headers={"x-api-key": key},
            )
    assert created.status_code == 422
    assert "TASKLOOM_SECRET_KEY" in created.json()["detail"][0]["msg"]


async def test_an_agent_keeps_its_slack_token_only_sealed(
    client: httpx.AsyncClient, headers: dict[str, str], database_url: str
) -> None:
    slack = {"channels": ["#ops"], "credentials": {"token": TOKEN}}
    body = {
        "name": "helper",
        "model_provider": "openai",
        "model_name": "gpt-test",
        "notification_settings": {"on_success": {"slack": [slack]}},
    }
    created = await client.post("/v1/agents", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert TOKEN not in created.text
    shown = created.json()["notification_settings"]["on_success"]["slack"][0]
    assert set(shown["credentials"]) == {"sealed"}
    async with Database(database_url) as db, db.read() as conn:
        stored = (
            await conn.execute(
                sa.select(workflows.c.draft).where(workflows.c.id == created.json()["id"])
            )
        ).scalar_one()
    assert TOKEN not in json.dumps(stored)


@pytest.mark.parametrize(
    ("notify", "said"),
    [
        ({"on_success": {"email": [{"to": ["not an address"]}]}}, "not an email address"),
        ({"on_success": {"email": [{"to": []}]}}, "on_success.email.0.to"),
        ({"on_error": {"webhook": [{"headers": {}}]}}, "on_error.webhook.0.url"),
        ({"on_success": {"slack": [{"credentials": {"token": "x"}}]}}, "slack.0.channels"),
        ({"on_success": {"slack": [{"channels": ["#x"], "credentials": {}}]}}, "no bot token"),
        ({"on_success": "everyone"}, "notification_settings.on_success"),
    ],
)
async def test_notification_settings_of_the_wrong_shape_are_a_clear_422(
    client: httpx.AsyncClient, headers: dict[str, str], notify: Any, said: str
) -> None:
    body = {
        "name": "told",
        "orchestration_nodes": [code_node("only", "return 'ok'")],
        "notification_settings": notify,
    }
    created = await client.post("/v1/workflows", json=body, headers=headers)
    assert created.status_code == 422, created.text
    assert said in created.text


async def test_a_wait_naming_slack_channels_without_a_token_is_a_clear_422(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await client.post("/v1/workflows", json=approval(channels=["#x"]), headers=headers)
    assert created.status_code == 422, created.text
    assert "no bot token" in created.text
