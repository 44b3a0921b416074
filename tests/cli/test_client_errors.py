"""Error mapping and request building, offline: httpx's MockTransport is the seam."""

from __future__ import annotations

import json

import httpx
import pytest

from taskloom.client import (
    ApiError,
    BadRequest,
    Client,
    Conflict,
    RateLimited,
    ServerError,
    ValidationFailed,
)


def answering(status: int, body: object) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    return Client("http://127.0.0.1:1", "tlk_k", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequest),
        (409, Conflict),
        (413, BadRequest),
        (429, RateLimited),
        (503, ServerError),
        (418, ApiError),
    ],
)
def test_status_maps_to_its_error_class(status: int, error: type[ApiError]) -> None:
    with answering(status, {"detail": "why"}) as client, pytest.raises(error) as raised:
        client.get_task("t")
    assert type(raised.value) is error
    assert (raised.value.status_code, raised.value.detail) == (status, "why")


def test_validation_detail_reads_as_one_line() -> None:
    detail = [{"loc": ["body", "input"], "msg": "Field required", "type": "missing"}]
    with answering(422, {"detail": detail}) as client, pytest.raises(ValidationFailed) as raised:
        client.invoke("w", "x")
    assert raised.value.detail == detail
    assert str(raised.value) == "422: body.input: Field required"


def test_a_reply_without_json_keeps_its_text() -> None:
    with answering(502, "bad gateway") as client, pytest.raises(ServerError) as raised:
        client.list_tasks()
    assert raised.value.detail == "bad gateway"


def test_invoke_builds_the_contract_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        task = {"id": "t", "agent_id": "a", "organization_id": "o", "status": "pending"}
        return httpx.Response(200, json=task)

    with Client("http://127.0.0.1:1", "tlk_k", transport=httpx.MockTransport(handler)) as client:
        client.submit(
            "a1",
            "hi",
            kind="agent",
            input={"user": {"id": "u"}},
            version="draft",
            task_id="t",
            idempotency_key="k1",
            options={"title": "T"},
        )
    [request] = seen
    assert (request.method, request.url.path) == ("POST", "/v1/agents/a1/invoke/async")
    assert request.url.params["version"] == "draft"
    assert request.headers["x-api-key"] == "tlk_k"
    assert request.headers["Idempotency-Key"] == "k1"
    body = json.loads(request.content)
    assert body == {"title": "T", "input": {"user": {"id": "u"}, "text": "hi"}, "id": "t"}
