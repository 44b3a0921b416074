"""The async invoke shortcut (api/invoke_shortcut.py): a plain async invoke by an `x-api-key`
is answered before routing, as the route answers it; anything it does not take, or that fails,
reaches the route with its body intact and gets the route's answer."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import DeployWorkflow
from tests.support.workflows import w1

_VARYING = {"id", "created_at", "updated_at", "input", "started_at"}


def _steady(task: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in task.items() if name not in _VARYING}


async def test_a_plain_async_invoke_is_answered_as_the_route_answers_it(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    url = f"/v1/workflows/{workflow_id}/invoke/async"

    plain = await client.post(url, json={"input": {"text": "a"}, "title": "t"}, headers=headers)
    # a query string always goes to the route
    routed = await client.post(
        f"{url}?version=latest", json={"input": {"text": "b"}, "title": "t"}, headers=headers
    )

    assert plain.status_code == routed.status_code == 200
    assert plain.headers["content-type"] == routed.headers["content-type"]
    assert plain.json()["status"] == "pending"
    assert _steady(plain.json()) == _steady(routed.json())
    assert plain.json()["id"] != routed.json()["id"]


async def test_a_body_the_model_refuses_reaches_the_route_whole(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())

    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async", json={"input": 5}, headers=headers
    )

    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"][0]["loc"][:2] == ["body", "input"]


async def test_a_body_that_is_not_json_gets_the_routes_422(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())

    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        content=b'{"input": {"text": NaN}}',
        headers={**headers, "content-type": "application/json"},
    )

    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"][0]["type"] == "json_invalid"


async def test_an_invoke_that_fails_gets_the_routes_error(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.post(
        "/v1/workflows/no-such-workflow/invoke/async",
        json={"input": {"text": "a"}},
        headers=headers,
    )

    assert reply.status_code == 404, reply.text
    assert isinstance(reply.json()["detail"], str)


async def test_an_idempotent_repeat_replays_the_first_task(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())
    url = f"/v1/workflows/{workflow_id}/invoke/async"
    keyed = {**headers, "Idempotency-Key": "k-1"}

    first = await client.post(url, json={"input": {"text": "a"}}, headers=keyed)
    again = await client.post(url, json={"input": {"text": "a"}}, headers=keyed)
    other = await client.post(url, json={"input": {"text": "b"}}, headers=keyed)

    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 409, other.text


async def test_an_unknown_key_gets_the_routes_401(
    client: httpx.AsyncClient, deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(w1())

    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        json={"input": {"text": "a"}},
        headers={"x-api-key": "not-a-key"},
    )

    assert reply.status_code == 401, reply.text
