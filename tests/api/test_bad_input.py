"""Bad input: every malformed request answers 4xx in FastAPI's shape, never 500, and loses
nothing that was already stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import pytest

from tests.conftest import DeployWorkflow
from tests.support.workflows import code_node

JSON_HEADERS = {"content-type": "application/json"}


def two_nodes() -> dict[str, Any]:
    return {
        "name": "good",
        "orchestration_nodes": [
            code_node("a", "return input", next_ids=["b"]),
            code_node("b", "return input + '!'"),
        ],
    }


def with_nodes(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"name": "bad", "orchestration_nodes": list(nodes)}


def parallel(node_id: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "parallel",
        "name": node_id,
        "definition": {"nodes": list(children)},
        "next_node_ids": [],
    }


def routed(node_id: str, condition: dict[str, Any]) -> dict[str, Any]:
    return code_node(node_id, "return input", condition=condition)


# Graphs that must be refused, at create and at PATCH.
BAD_GRAPHS: dict[str, dict[str, Any]] = {
    "unknown_type": with_nodes({"id": "x", "type": "teleport", "definition": {}}),
    "cycle": with_nodes(
        code_node("a", "return input", next_ids=["b"]),
        code_node("b", "return input", next_ids=["a"]),
    ),
    "self_loop": with_nodes(code_node("a", "return input", next_ids=["a"])),
    "dangling_edge": with_nodes(code_node("a", "return input", next_ids=["ghost"])),
    "duplicate_ids": with_nodes(code_node("a", "return 1"), code_node("a", "return 2")),
    "duplicate_id_in_parallel_branch": with_nodes(
        code_node("a", "return input", next_ids=["fan"]),
        parallel("fan", code_node("a", "return 1")),
    ),
    "bad_regex": with_nodes(
        code_node("a", "return input", next_ids=["b"]),
        routed("b", {"type": "regex", "term": "(unclosed"}),
    ),
    "bad_regex_in_end_condition": with_nodes(
        code_node(
            "a",
            "return input",
            iterative_strategy={
                "enabled": True,
                "end_condition": {"type": "regex", "term": "[z-a]"},
            },
        ),
    ),
    "pointer_to_unknown_node": with_nodes(
        code_node("a", "return input", next_ids=["p"]),
        {"id": "p", "type": "node_pointer", "definition": {"source_node_id": "ghost"}},
    ),
    "pointer_without_source": with_nodes(
        {"id": "p", "type": "node_pointer", "definition": {}},
    ),
    "pointer_cycle": with_nodes(
        {"id": "p", "type": "node_pointer", "definition": {"source_node_id": "q"}},
        {"id": "q", "type": "node_pointer", "definition": {"source_node_id": "p"}},
    ),
    "code_without_code": with_nodes({"id": "a", "type": "code", "definition": {}}),
    "code_with_empty_code": with_nodes({"id": "a", "type": "code", "definition": {"code": ""}}),
    "parallel_without_branches": with_nodes(parallel("fan")),
    "parallel_branch_with_edges": with_nodes(
        parallel("fan", code_node("x", "return 1", next_ids=["fan"])),
    ),
    "parallel_branches_with_one_name": with_nodes(
        parallel(
            "fan", code_node("x", "return 1", name="same"), code_node("y", "return 2", name="same")
        ),
    ),
    "unknown_condition_type": with_nodes(
        code_node("a", "return input", next_ids=["b"]),
        routed("b", {"type": "approximately", "value": 1}),
    ),
    "node_without_type": with_nodes({"id": "a", "definition": {"code": "x"}}),
    "node_with_empty_id": with_nodes(code_node("", "return input")),
    "timeout_zero": with_nodes(code_node("a", "return input", timeout_seconds=0)),
    "negative_max_retries": with_nodes(
        code_node("a", "return input", retry_strategy={"enabled": True, "max_retries": -1}),
    ),
    "zero_max_iterations": with_nodes(
        code_node("a", "return input", iterative_strategy={"enabled": True, "max_iterations": 0}),
    ),
    "unknown_output_format": {**two_nodes(), "output_format": "pdf"},
    "empty_name": {**two_nodes(), "name": ""},
}


def assert_fastapi_error(reply: httpx.Response, *, status: int | None = None) -> None:
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text)
    if status is not None:
        assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"detail"}, body
    assert isinstance(body["detail"], str | list)
    assert body["detail"]


async def total_workflows(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    reply = await client.get("/v1/workflows", headers=headers)
    assert reply.status_code == 200, reply.text
    total: int = reply.json()["total"]
    return total


async def workflow_state(
    client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str
) -> Any:
    reply = await client.get(f"/v1/workflows/{workflow_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def run(client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str) -> Any:
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "hi"}}, headers=headers
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


# -- create: refused graphs ------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(BAD_GRAPHS))
async def test_create_workflow_bad_graph_is_422(
    client: httpx.AsyncClient, headers: dict[str, str], case: str
) -> None:
    reply = await client.post("/v1/workflows", json=BAD_GRAPHS[case], headers=headers)
    assert_fastapi_error(reply, status=422)
    assert await total_workflows(client, headers) == 0


async def test_create_workflow_unknown_type_names_the_type(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.post("/v1/workflows", json=BAD_GRAPHS["unknown_type"], headers=headers)
    assert "teleport" in str(reply.json()["detail"])


async def test_create_workflow_cycle_names_the_nodes(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.post("/v1/workflows", json=BAD_GRAPHS["cycle"], headers=headers)
    detail = str(reply.json()["detail"])
    assert "a" in detail
    assert "cycle" in detail


async def test_create_workflow_pointer_in_parallel_branch_to_unknown_node_is_422(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = with_nodes(
        parallel(
            "fan",
            {
                "id": "p",
                "type": "node_pointer",
                "name": "p",
                "definition": {"source_node_id": "ghost"},
            },
        ),
    )
    reply = await client.post("/v1/workflows", json=body, headers=headers)
    assert_fastapi_error(reply, status=422)


async def test_create_workflow_parallel_branch_without_id_is_422(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = with_nodes(parallel("fan", {"type": "code", "definition": {"code": "x"}}))
    reply = await client.post("/v1/workflows", json=body, headers=headers)
    assert_fastapi_error(reply, status=422)


async def test_create_workflow_parallel_branches_not_a_list_is_422(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = with_nodes({"id": "fan", "type": "parallel", "definition": {"nodes": "abc"}})
    reply = await client.post("/v1/workflows", json=body, headers=headers)
    assert_fastapi_error(reply, status=422)


async def test_create_workflow_more_nodes_than_max_nodes_is_422(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    nodes = [code_node(f"n{i}", "return input") for i in range(201)]
    reply = await client.post("/v1/workflows", json=with_nodes(*nodes), headers=headers)
    assert_fastapi_error(reply, status=422)
    assert "200" in str(reply.json()["detail"])


async def test_create_workflow_exactly_max_nodes_is_accepted(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    nodes = [code_node(f"n{i}", "return input") for i in range(200)]
    reply = await client.post("/v1/workflows", json=with_nodes(*nodes), headers=headers)
    assert reply.status_code == 201, reply.text


async def test_create_workflow_parallel_branches_count_towards_max_nodes(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    branches = [code_node(f"b{i}", "return input") for i in range(200)]
    reply = await client.post(
        "/v1/workflows", json=with_nodes(parallel("fan", *branches)), headers=headers
    )
    assert_fastapi_error(reply, status=422)


# -- create: malformed bodies ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "w",',
        b"{name: 'w'}",
        b"",
        b"not json at all",
        b'{"name": "w"} trailing',
    ],
    ids=["truncated", "single_quotes", "empty", "text", "trailing_garbage"],
)
async def test_create_workflow_malformed_json_is_422(
    client: httpx.AsyncClient, headers: dict[str, str], raw: bytes
) -> None:
    reply = await client.post("/v1/workflows", content=raw, headers={**headers, **JSON_HEADERS})
    assert_fastapi_error(reply, status=422)
    assert await total_workflows(client, headers) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"name": 123},
        {"name": None},
        {"name": ["w"]},
        {"name": "w", "orchestration_nodes": "a,b"},
        {"name": "w", "orchestration_nodes": [1, 2]},
        {"name": "w", "orchestration_nodes": [{"id": 5, "type": "code"}]},
        {"name": "w", "orchestration_nodes": [{"id": "a", "type": "code", "definition": "x"}]},
        {
            "name": "w",
            "orchestration_nodes": [
                {"id": "a", "type": "code", "definition": {"code": "x"}, "next_node_ids": "b"}
            ],
        },
        {"description": "no name"},
        [{"name": "w"}],
        "w",
    ],
    ids=[
        "name_int",
        "name_null",
        "name_list",
        "nodes_string",
        "nodes_ints",
        "node_id_int",
        "definition_string",
        "next_ids_string",
        "missing_name",
        "array_body",
        "string_body",
    ],
)
async def test_create_workflow_wrong_types_are_422(
    client: httpx.AsyncClient, headers: dict[str, str], body: Any
) -> None:
    reply = await client.post("/v1/workflows", json=body, headers=headers)
    assert_fastapi_error(reply, status=422)
    assert await total_workflows(client, headers) == 0


async def test_create_workflow_text_content_type_is_4xx(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.post(
        "/v1/workflows",
        content=json.dumps({"name": "w"}),
        headers={**headers, "content-type": "text/plain"},
    )
    assert_fastapi_error(reply)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "w", "output_schema": {"x": NaN}}',
        b'{"name": "w", "output_schema": {"x": Infinity}}',
    ],
    ids=["nan", "infinity"],
)
async def test_create_workflow_non_standard_json_constants_are_422(
    client: httpx.AsyncClient, headers: dict[str, str], raw: bytes
) -> None:
    reply = await client.post("/v1/workflows", content=raw, headers={**headers, **JSON_HEADERS})
    assert_fastapi_error(reply, status=422)


async def test_create_workflow_non_standard_json_constant_keeps_the_list_readable(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await client.post(
        "/v1/workflows",
        content=b'{"name": "w", "output_schema": {"x": NaN}}',
        headers={**headers, **JSON_HEADERS},
    )
    assert (await client.get("/v1/workflows", headers=headers)).status_code == 200


async def test_create_workflow_number_too_large_for_a_float_is_not_500(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    # valid JSON (RFC 8259 puts no limit on a number's size) that overflows a double
    reply = await client.post(
        "/v1/workflows",
        content=b'{"name": "w", "output_schema": {"maximum": 1e400}}',
        headers={**headers, **JSON_HEADERS},
    )
    assert reply.status_code < 500, reply.text
    assert (await client.get("/v1/workflows", headers=headers)).status_code == 200


async def test_create_workflow_nul_character_in_name_is_not_500(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.post("/v1/workflows", json={"name": "a\u0000b"}, headers=headers)
    assert reply.status_code < 500, reply.text


# -- body size ---------------------------------------------------------------------------


async def test_create_workflow_body_over_the_limit_is_413(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = json.dumps({"name": "w", "description": "x" * 4_194_304}).encode()
    reply = await client.post("/v1/workflows", content=body, headers={**headers, **JSON_HEADERS})
    assert reply.status_code == 413
    assert "detail" in reply.json()
    assert await total_workflows(client, headers) == 0


async def test_invoke_body_over_the_limit_is_413(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    body = json.dumps({"input": {"text": "x" * 4_194_304}}).encode()
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", content=body, headers={**headers, **JSON_HEADERS}
    )
    assert reply.status_code == 413
    assert (await client.get("/v1/tasks", headers=headers)).json()["total"] == 0


async def test_create_workflow_chunked_body_over_the_limit_is_413(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = json.dumps({"name": "w", "description": "x" * 4_194_304}).encode()

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: the size is only seen late
        for start in range(0, len(body), 65_536):
            yield body[start : start + 65_536]

    reply = await client.post(
        "/v1/workflows", content=chunks(), headers={**headers, **JSON_HEADERS}
    )
    assert reply.status_code == 413, reply.text
    assert await total_workflows(client, headers) == 0


async def test_create_workflow_body_just_under_the_limit_is_accepted(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    empty = len(json.dumps({"name": "w", "description": ""}).encode())
    body = json.dumps({"name": "w", "description": "x" * (4_194_304 - empty)}).encode()
    assert len(body) == 4_194_304
    reply = await client.post("/v1/workflows", content=body, headers={**headers, **JSON_HEADERS})
    assert reply.status_code == 201, reply.text[:200]


# -- PATCH: refused, and nothing changes -------------------------------------------------


@pytest.mark.parametrize("case", sorted(BAD_GRAPHS))
async def test_patch_workflow_bad_graph_is_422_and_changes_nothing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    case: str,
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    before = await workflow_state(client, headers, workflow_id)
    reply = await client.patch(
        f"/v1/workflows/{workflow_id}", json=BAD_GRAPHS[case], headers=headers
    )
    assert_fastapi_error(reply, status=422)
    assert await workflow_state(client, headers, workflow_id) == before


async def test_patch_workflow_bad_graph_with_deploy_publishes_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    reply = await client.patch(
        f"/v1/workflows/{workflow_id}?deploy=true", json=BAD_GRAPHS["cycle"], headers=headers
    )
    assert_fastapi_error(reply, status=422)
    assert (await workflow_state(client, headers, workflow_id))["version"] == 1
    assert (await run(client, headers, workflow_id))["result"] == "hi!"


@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"orchestration_nodes": None},
        {"output_format": None},
        {"name": 5},
        {"orchestration_nodes": {"a": 1}},
        {"status": "PAUSED"},
        {"output_format": "pdf"},
    ],
    ids=[
        "name_null",
        "nodes_null",
        "output_format_null",
        "name_int",
        "nodes_object",
        "unknown_status",
        "unknown_output_format",
    ],
)
async def test_patch_workflow_wrong_types_are_422_and_change_nothing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    body: dict[str, Any],
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    before = await workflow_state(client, headers, workflow_id)
    reply = await client.patch(f"/v1/workflows/{workflow_id}", json=body, headers=headers)
    assert_fastapi_error(reply, status=422)
    assert await workflow_state(client, headers, workflow_id) == before


async def test_patch_workflow_empty_body_is_422(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    before = await workflow_state(client, headers, workflow_id)
    reply = await client.patch(f"/v1/workflows/{workflow_id}", json={}, headers=headers)
    assert_fastapi_error(reply, status=422)
    assert await workflow_state(client, headers, workflow_id) == before


async def test_patch_workflow_malformed_json_is_422_and_changes_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    before = await workflow_state(client, headers, workflow_id)
    reply = await client.patch(
        f"/v1/workflows/{workflow_id}", content=b'{"name": ', headers={**headers, **JSON_HEADERS}
    )
    assert_fastapi_error(reply, status=422)
    assert await workflow_state(client, headers, workflow_id) == before


async def test_patch_workflow_bad_deploy_flag_is_422(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    reply = await client.patch(
        f"/v1/workflows/{workflow_id}?deploy=maybe", json={"name": "x"}, headers=headers
    )
    assert_fastapi_error(reply, status=422)
    assert (await workflow_state(client, headers, workflow_id))["name"] == "good"


# -- invoke -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"input": None},
        {"input": "hello"},
        {"input": {"text": 5}},
        {"input": {"text": "x", "files": "a.pdf"}},
        {"input": {"text": "x"}, "output_format": "pdf"},
        {"input": {"text": "x"}, "think_mode": "hardest"},
        {"input": {"text": "x"}, "payload_extension": [1, 2]},
        {"input": {"text": "x"}, "id": ""},
        {"input": {"text": "x"}, "id": "x" * 65},
        {"text": "forgot the input wrapper"},
    ],
    ids=[
        "empty",
        "input_null",
        "input_string",
        "text_int",
        "files_string",
        "unknown_output_format",
        "unknown_think_mode",
        "payload_extension_list",
        "empty_task_id",
        "task_id_too_long",
        "missing_input",
    ],
)
async def test_invoke_bad_body_is_422_and_creates_no_task(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    body: dict[str, Any],
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    reply = await client.post(f"/v1/workflows/{workflow_id}/invoke", json=body, headers=headers)
    assert_fastapi_error(reply, status=422)
    assert (await client.get("/v1/tasks", headers=headers)).json()["total"] == 0


@pytest.mark.parametrize("route", ["invoke", "invoke/async"])
async def test_invoke_malformed_json_is_422(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    route: str,
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/{route}",
        content=b'{"input": {"text": "x"',
        headers={**headers, **JSON_HEADERS},
    )
    assert_fastapi_error(reply, status=422)


@pytest.mark.parametrize("version", ["0", "-1", "abc", "1.5", ""])
async def test_invoke_invalid_version_is_422(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    version: str,
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke",
        params={"version": version},
        json={"input": {"text": "x"}},
        headers=headers,
    )
    assert_fastapi_error(reply, status=422)


async def test_invoke_nan_in_payload_extension_is_422(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        content=b'{"input": {"text": "x"}, "payload_extension": {"score": NaN}}',
        headers={**headers, **JSON_HEADERS},
    )
    assert_fastapi_error(reply, status=422)


async def test_invoke_nan_in_payload_extension_keeps_the_task_list_readable(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        content=b'{"input": {"text": "x"}, "payload_extension": {"score": NaN}}',
        headers={**headers, **JSON_HEADERS},
    )
    assert (await client.get("/v1/tasks", headers=headers)).status_code == 200


async def test_invoke_nul_character_in_text_is_not_500(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        json={"input": {"text": "a\u0000b"}},
        headers=headers,
    )
    assert reply.status_code < 500, reply.text


# -- lists --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/workflows", "/v1/tasks"])
@pytest.mark.parametrize(
    "params",
    [
        {"page": 0},
        {"page": -1},
        {"page": "x"},
        {"per_page": 0},
        {"per_page": 51},
        {"per_page": "all"},
    ],
    ids=["page_0", "page_negative", "page_text", "per_page_0", "per_page_51", "per_page_text"],
)
async def test_list_bad_paging_is_422(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, params: dict[str, Any]
) -> None:
    reply = await client.get(path, params=params, headers=headers)
    assert_fastapi_error(reply, status=422)


# -- deeply nested JSON -------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


async def test_create_workflow_deeply_nested_json_is_4xx(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = b'{"name": "w", "output_schema": {"a": ' + nested(100_000) + b"}}"
    reply = await client.post("/v1/workflows", content=body, headers={**headers, **JSON_HEADERS})
    assert_fastapi_error(reply)
    assert await total_workflows(client, headers) == 0


@pytest.mark.parametrize("depth", [200, 990])
async def test_invoke_nested_payload_extension_is_stored_or_refused(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    depth: int,
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    body = b'{"input": {"text": "x"}, "payload_extension": {"a": ' + nested(depth) + b"}}"
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", content=body, headers={**headers, **JSON_HEADERS}
    )
    assert reply.status_code == 200 or 400 <= reply.status_code < 500, reply.text[:300]
    assert (await client.get("/v1/tasks", headers=headers)).status_code == 200


# -- text the stores or the wire cannot carry ----------------------------------------------


async def status_of(request: Awaitable[httpx.Response]) -> int:
    """The status the client would see; an exception out of the app is the server's 500."""
    try:
        reply = await request
    except Exception:  # the in-process transport re-raises what a server would answer 500 to
        return 500
    return reply.status_code


@pytest.mark.parametrize(
    "raw",
    [b'{"name": "a\\ud800b"}', b'{"name": "w", "description": "a\\udfffb"}'],
    ids=["in_name", "in_description"],
)
async def test_create_workflow_lone_surrogate_escape_is_422(
    client: httpx.AsyncClient, headers: dict[str, str], raw: bytes
) -> None:
    status = await status_of(
        client.post("/v1/workflows", content=raw, headers={**headers, **JSON_HEADERS})
    )
    assert status == 422


async def test_create_workflow_lone_surrogate_escape_keeps_the_list_readable(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await status_of(
        client.post(
            "/v1/workflows",
            content=b'{"name": "w", "description": "a\\ud800b"}',
            headers={**headers, **JSON_HEADERS},
        )
    )
    assert await status_of(client.get("/v1/workflows", headers=headers)) == 200


async def test_invoke_lone_surrogate_escape_is_422(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    status = await status_of(
        client.post(
            f"/v1/workflows/{workflow_id}/invoke/async",
            content=b'{"input": {"text": "a\\ud800b"}}',
            headers={**headers, **JSON_HEADERS},
        )
    )
    assert status == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/tasks/a%00b"),
        ("POST", "/v1/tasks/a%00b/stop"),
        ("DELETE", "/v1/tasks/a%00b"),
        ("GET", "/v1/workflows/a%00b"),
        ("PUT", "/v1/workflows/a%00b"),
        ("DELETE", "/v1/workflows/a%00b"),
        ("GET", "/v1/workflows/a%00b/nodes"),
    ],
)
async def test_nul_character_in_a_path_id_is_404(
    client: httpx.AsyncClient, headers: dict[str, str], method: str, path: str
) -> None:
    assert await status_of(client.request(method, path, headers=headers)) == 404


async def test_invoke_nul_character_in_a_workflow_id_is_404(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    status = await status_of(
        client.post("/v1/workflows/a%00b/invoke", json={"input": {"text": "x"}}, headers=headers)
    )
    assert status == 404


@pytest.mark.parametrize("name", ["agent_id", "user_id", "parent_task_id"])
async def test_list_tasks_nul_character_in_a_filter_is_not_500(
    client: httpx.AsyncClient, headers: dict[str, str], name: str
) -> None:
    status = await status_of(client.get("/v1/tasks", params={name: "a\x00b"}, headers=headers))
    assert status in (200, 422)


async def test_invoke_nul_character_in_the_task_id_is_not_500(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    status = await status_of(
        client.post(
            f"/v1/workflows/{workflow_id}/invoke/async",
            json={"id": "a\x00b", "input": {"text": "x"}},
            headers=headers,
        )
    )
    assert status in (200, 422)


# -- integers past their bounds ------------------------------------------------------------

HUGE = 10**30  # past SQLite's 64-bit INTEGER and PostgreSQL's bigint

LIST_ROUTES = [
    "/v1/workflows",
    "/v1/agents",
    "/v1/agents/full",
    "/v1/agents/some-agent/tasks",
    "/v1/tasks",
    "/agent-execution/executions/history/some-agent",
    "/agent-execution/executions/history/user/some-user",
]


@pytest.mark.parametrize("name", ["page", "per_page"])
@pytest.mark.parametrize("path", LIST_ROUTES)
async def test_list_paging_past_the_bound_is_422(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, name: str
) -> None:
    reply = await client.get(path, params={name: HUGE}, headers=headers)
    assert_fastapi_error(reply, status=422)
    assert reply.json()["detail"][0]["loc"] == ["query", name]


@pytest.mark.parametrize("path", LIST_ROUTES)
async def test_list_last_page_within_the_bound_is_200(
    client: httpx.AsyncClient, headers: dict[str, str], path: str
) -> None:
    reply = await client.get(path, params={"page": 10_000}, headers=headers)
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize("version", [HUGE, 2**31])
async def test_invoke_version_past_the_bound_is_422(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    version: int,
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        params={"version": version},
        json={"input": {"text": "x"}},
        headers=headers,
    )
    assert_fastapi_error(reply, status=422)
    assert (await client.get("/v1/tasks", headers=headers)).json()["total"] == 0


async def test_task_events_last_event_id_past_the_bound_is_422(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    # checked before the task is looked up: an event sequence is a 32-bit column
    reply = await client.get(
        "/v1/tasks/some-task/events", headers={**headers, "Last-Event-ID": str(2**31)}
    )
    assert_fastapi_error(reply, status=422)
    assert reply.json()["detail"][0]["loc"] == ["header", "Last-Event-ID"]


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v1/workflows", b'{"name": "w", "output_schema": {"maximum": %d}}'),
        ("/v1/workflows", b'{"name": "w", "output_schema": {"minimum": -%d}}'),
        ("/v1/agents", b'{"name": "a", "max_tokens": %d}'),
        ("/v1/secrets/s", b'{"value": "v", "version": %d}'),
    ],
    ids=["workflow_schema", "workflow_schema_negative", "agent_max_tokens", "secret_extra"],
)
async def test_create_integer_past_the_bound_is_422_and_stores_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, raw: bytes
) -> None:
    method = "PUT" if path.startswith("/v1/secrets") else "POST"
    reply = await client.request(
        method, path, content=raw % HUGE, headers={**headers, **JSON_HEADERS}
    )
    assert_fastapi_error(reply, status=422)
    assert "out of range" in reply.json()["detail"][0]["msg"]
    assert await total_workflows(client, headers) == 0
    assert (await client.get("/v1/agents", headers=headers)).json()["total"] == 0


async def test_invoke_integer_past_the_bound_is_422_and_creates_no_task(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        content=b'{"input": {"text": "x"}, "payload_extension": {"n": %d}}' % HUGE,
        headers={**headers, **JSON_HEADERS},
    )
    assert_fastapi_error(reply, status=422)
    assert (await client.get("/v1/tasks", headers=headers)).json()["total"] == 0


async def test_invoke_largest_json_integer_is_kept(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    largest = 2**53 - 1
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        json={"input": {"text": "x"}, "payload_extension": {"n": largest, "m": -largest}},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["payload_extension"] == {"n": largest, "m": -largest}


# -- nesting, encoding and the 422 shape ----------------------------------------------------


@pytest.mark.parametrize("depth", [65, 500])
async def test_invoke_json_nested_past_the_limit_is_422_and_creates_no_task(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deploy_workflow: DeployWorkflow,
    depth: int,
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    # payload_extension and "a" are two levels, the body itself one more
    body = b'{"input": {"text": "x"}, "payload_extension": {"a": ' + nested(depth - 2) + b"}}"
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        content=body,
        headers={**headers, **JSON_HEADERS},
    )
    assert_fastapi_error(reply, status=422)
    assert "64" in reply.json()["detail"][0]["msg"]
    assert (await client.get("/v1/tasks", headers=headers)).json()["total"] == 0


async def test_invoke_json_nested_to_the_limit_is_accepted(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    body = b'{"input": {"text": "x"}, "payload_extension": {"a": ' + nested(62) + b"}}"
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke/async",
        content=body,
        headers={**headers, **JSON_HEADERS},
    )
    assert reply.status_code == 200, reply.text


async def test_create_workflow_brackets_in_strings_do_not_count_as_nesting(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = {"name": "w", "description": "[{" * 500 + '\\"' + "}]" * 500}
    reply = await client.post("/v1/workflows", json=body, headers=headers)
    assert reply.status_code == 201, reply.text


@pytest.mark.parametrize("path", ["/v1/workflows", "/v1/agents"])
async def test_create_body_not_utf8_is_422(
    client: httpx.AsyncClient, headers: dict[str, str], path: str
) -> None:
    reply = await client.post(
        path, content=b'{"name": "\xff\xfe"}', headers={**headers, **JSON_HEADERS}
    )
    assert_fastapi_error(reply, status=422)
    assert await total_workflows(client, headers) == 0


async def test_patch_workflow_refused_change_is_422_in_fastapis_shape(
    client: httpx.AsyncClient, headers: dict[str, str], deploy_workflow: DeployWorkflow
) -> None:
    workflow_id = await deploy_workflow(two_nodes())
    reply = await client.patch(
        f"/v1/workflows/{workflow_id}", json=BAD_GRAPHS["cycle"], headers=headers
    )
    assert_fastapi_error(reply, status=422)
    [problem] = reply.json()["detail"]
    assert problem["loc"] == ["body"]
    assert "cycle" in problem["msg"]


async def test_create_workflow_content_length_of_thousands_of_digits_is_413(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    transport = client._transport
    request = httpx.Request(
        "POST",
        "http://taskloom/v1/workflows",
        headers={**headers, **JSON_HEADERS, "content-length": "9" * 5000},
        content=b'{"name": "w"}',
    )
    reply = await transport.handle_async_request(request)
    assert reply.status_code == 413
    assert await total_workflows(client, headers) == 0
