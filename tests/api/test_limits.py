"""Limits named in Settings hold at the value they are set to, not only at their default."""

from __future__ import annotations

import httpx
import pytest

from taskloom.config import Settings
from tests import conftest
from tests.api.test_bad_input import assert_fastapi_error, nested

MAX_PAGE = 3
MAX_PER_PAGE = 2
MAX_JSON_DEPTH = 8
JSON_HEADERS = {"content-type": "application/json"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    # through the module: a bare `test_settings` here would be collected as a test
    return conftest.test_settings(
        database_url,
        max_page=MAX_PAGE,
        max_per_page=MAX_PER_PAGE,
        max_json_depth=MAX_JSON_DEPTH,
    )


@pytest.mark.parametrize(
    "path", ["/v1/workflows", "/v1/tasks", "/agent-execution/executions/history/some-agent"]
)
async def test_max_page_is_the_last_page_served(
    client: httpx.AsyncClient, headers: dict[str, str], path: str
) -> None:
    assert (await client.get(path, params={"page": MAX_PAGE}, headers=headers)).status_code == 200
    reply = await client.get(path, params={"page": MAX_PAGE + 1}, headers=headers)
    assert_fastapi_error(reply, status=422)
    [problem] = reply.json()["detail"]
    assert (problem["loc"], problem["ctx"]) == (["query", "page"], {"le": MAX_PAGE})


@pytest.mark.parametrize("path", ["/v1/workflows", "/v1/agents", "/v1/tasks"])
async def test_max_per_page_is_the_largest_page_served(
    client: httpx.AsyncClient, headers: dict[str, str], path: str
) -> None:
    served = await client.get(path, params={"per_page": MAX_PER_PAGE}, headers=headers)
    assert served.json()["per_page"] == MAX_PER_PAGE
    reply = await client.get(path, params={"per_page": MAX_PER_PAGE + 1}, headers=headers)
    assert_fastapi_error(reply, status=422)
    [problem] = reply.json()["detail"]
    assert (problem["loc"], problem["ctx"]) == (["query", "per_page"], {"le": MAX_PER_PAGE})


async def test_max_json_depth_is_the_deepest_body_taken(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    def body(depth: int) -> bytes:  # the body and output_schema are two levels
        return b'{"name": "w", "output_schema": {"a": ' + nested(depth - 2) + b"}}"

    deepest = await client.post(
        "/v1/workflows", content=body(MAX_JSON_DEPTH), headers={**headers, **JSON_HEADERS}
    )
    assert deepest.status_code == 201, deepest.text
    reply = await client.post(
        "/v1/workflows", content=body(MAX_JSON_DEPTH + 1), headers={**headers, **JSON_HEADERS}
    )
    assert_fastapi_error(reply, status=422)
    assert f"deeper than {MAX_JSON_DEPTH}" in reply.json()["detail"][0]["msg"]
