"""Toolkits end to end: an OpenAPI document served by a real HTTP server on loopback is
imported as a toolkit, its operations listed and invoked through the API, called by an agent
(the fake model on loopback picks the tool) and by a workflow's action node. The egress rules
allow loopback here, as an operator would allow-list a network."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from taskloom.config import Settings
from tests.conftest import DeployWorkflow
from tests.conftest import test_settings as settings_for
from tests.llm.conftest import llm_settings
from tests.llm.test_agent_runs_api import of_type, places_holding, stream_invoke
from tests.llm.test_agents_api import deployed_agent
from tests.support.fake_actions import FakeActions
from tests.support.fake_llm import FakeLLM, Reply

TOKEN = "tok-5f0e1c2d-shop-api-credential"


def shop_document() -> dict[str, Any]:
    order = {
        "type": "object",
        "properties": {"item": {"type": "string"}, "count": {"type": "integer"}},
        "required": ["item"],
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Shop", "description": "Orders of the shop."},
        "servers": [{"url": "/api"}],
        "components": {"schemas": {"Order": order}},
        "paths": {
            "/orders": {
                "post": {
                    "operationId": "createOrder",
                    "summary": "Place an order",
                    "parameters": [
                        {"name": "dry_run", "in": "query", "schema": {"type": "boolean"}}
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Order"}}
                        },
                    },
                }
            },
            "/orders/{order_id}": {
                "parameters": [
                    {
                        "name": "order_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "get": {"operationId": "getOrder", "summary": "Read an order"},
            },
        },
    }


@pytest.fixture(scope="module")
def actions() -> Iterator[FakeActions]:
    with FakeActions() as server:
        server.documents["/openapi.json"] = shop_document()
        yield server


@pytest.fixture
def settings(database_url: str, fake_llm: FakeLLM) -> Settings:
    return settings_for(
        database_url,
        **llm_settings(fake_llm),
        egress_allowed_networks=["127.0.0.0/8"],
        secret_key="test-secret-key-for-fernet",  # toolkit credentials are stored as secrets
    )


async def imported(
    client: httpx.AsyncClient, headers: dict[str, str], actions: FakeActions
) -> dict[str, Any]:
    reply = await client.post(
        "/v1/toolkits",
        json={"openapi_url": f"{actions.url}/openapi.json", "headers": {"X-Shop-Token": TOKEN}},
        headers=headers,
    )
    assert reply.status_code == 201, reply.text
    toolkit: dict[str, Any] = reply.json()
    return toolkit


async def test_openapi_import_by_url_lists_tools_and_keeps_the_credential_only_encrypted(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    actions: FakeActions,
    database_url: str,
) -> None:
    toolkit = await imported(client, headers, actions)
    assert toolkit["name"] == "Shop"
    assert toolkit["base_url"] == f"{actions.url}/api"  # a relative server, from the document
    assert toolkit["headers"] == {"X-Shop-Token": "********"}
    tools = (await client.get(f"/v1/toolkits/{toolkit['id']}/tools", headers=headers)).json()
    by_id = {tool["id"]: tool for tool in tools}
    assert set(by_id) == {"createOrder", "getOrder"}
    create = by_id["createOrder"]
    assert create["method"] == "POST"
    assert create["asset_id"] == f"{toolkit['id']}_createOrder"
    # the $ref is inlined: a model is shown the whole body schema
    assert create["body_schema"]["properties"]["item"] == {"type": "string"}
    assert create["input_schema"]["required"] == ["body_params"]
    assert by_id["getOrder"]["input_schema"]["properties"]["path_params"]["required"] == [
        "order_id"
    ]
    listed = (await client.get("/v1/toolkits", headers=headers)).json()
    assert [item["id"] for item in listed["items"]] == [toolkit["id"]]
    assert await places_holding(database_url, TOKEN) == []
    secrets = (await client.get("/v1/secrets", headers=headers)).json()["items"]
    assert len(secrets) == 1  # the header's value, encrypted
    deleted = await client.delete(f"/v1/toolkits/{toolkit['id']}", headers=headers)
    assert deleted.status_code == 202
    assert (await client.get("/v1/secrets", headers=headers)).json()["items"] == []
    assert (await client.get(f"/v1/toolkits/{toolkit['id']}", headers=headers)).status_code == 404


async def test_import_of_a_document_on_a_refused_address_is_a_422(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    reply = await client.post(
        "/v1/toolkits", json={"openapi_url": "http://10.255.255.1/openapi.json"}, headers=headers
    )
    assert reply.status_code == 422, reply.text
    assert "openapi_url" in reply.json()["detail"][0]["msg"]


async def test_invoke_a_tool_sends_path_query_body_headers_and_the_credential(
    client: httpx.AsyncClient, headers: dict[str, str], actions: FakeActions
) -> None:
    toolkit = await imported(client, headers, actions)
    actions.reset()
    reply = await client.post(
        f"/v1/toolkits/{toolkit['id']}/tools/createOrder",
        json={
            "body_params": {"item": "tea", "count": 2},
            "query_params": {"dry_run": True},
            "headers": {"X-Trace": "t1", "X-Shop-Token": "caller cannot override"},
        },
        headers={**headers, "Idempotency-Key": "order-1"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "is_error": False,
        "status_code": 200,
        "result": {"ok": True, "echo": {"item": "tea", "count": 2}},
    }
    [call] = actions.received
    assert (call.method, call.path) == ("POST", "/api/orders")
    assert call.query == {"dry_run": ["true"]}
    assert call.headers["x-trace"] == "t1"
    assert call.headers["x-shop-token"] == TOKEN
    assert call.headers["idempotency-key"] == "order-1"

    actions.reset()
    reply = await client.post(
        f"/v1/toolkits/{toolkit['id']}/tools/getOrder",
        json={"path_params": {"order_id": "a/b 1"}},
        headers=headers,
    )
    assert reply.json()["is_error"] is False
    # a path parameter is one segment, whatever it holds
    assert actions.received[0].raw_path == "/api/orders/a%2Fb%201"


async def test_invoke_with_missing_arguments_or_an_unknown_tool_is_refused(
    client: httpx.AsyncClient, headers: dict[str, str], actions: FakeActions, other_key: str
) -> None:
    toolkit = await imported(client, headers, actions)
    path = f"/v1/toolkits/{toolkit['id']}/tools"
    missing = await client.post(f"{path}/getOrder", json={}, headers=headers)
    assert missing.status_code == 422
    assert "order_id" in missing.json()["detail"][0]["msg"]
    assert (await client.post(f"{path}/nope", json={}, headers=headers)).status_code == 404
    other = {"x-api-key": other_key}
    assert (await client.get(f"/v1/toolkits/{toolkit['id']}", headers=other)).status_code == 404
    assert (await client.post(f"{path}/getOrder", json={}, headers=other)).status_code == 404


async def test_toolkit_declared_by_hand(
    client: httpx.AsyncClient, headers: dict[str, str], actions: FakeActions
) -> None:
    body = {
        "name": "echo",
        "base_url": actions.url,
        "operations": [
            {
                "id": "find",
                "method": "GET",
                "path": "/find",
                "parameters": [{"name": "q", "location": "query", "required": True}],
            }
        ],
    }
    created = await client.post("/v1/toolkits", json=body, headers=headers)
    assert created.status_code == 201, created.text
    actions.reset()
    reply = await client.post(
        f"/v1/toolkits/{created.json()['id']}/tools/find",
        json={"query_params": {"q": "loom"}},
        headers=headers,
    )
    assert reply.json()["result"] == {"ok": True, "echo": {"q": ["loom"]}}


async def test_an_agent_calls_a_toolkit_operation_as_a_tool(
    client: httpx.AsyncClient, headers: dict[str, str], fake_llm: FakeLLM, actions: FakeActions
) -> None:
    toolkit = await imported(client, headers, actions)
    agent_id = await deployed_agent(client, headers, toolkit_tools=[f"{toolkit['id']}_createOrder"])
    actions.reset()
    fake_llm.script(
        Reply.tool("createOrder", {"body_params": {"item": "tea", "count": 1}}),
        Reply.say("Ordered."),
    )
    reply = await client.post(
        f"/v1/agents/{agent_id}/invoke", json={"input": {"text": "one tea"}}, headers=headers
    )
    task = reply.json()
    assert task["status"] == "completed", task
    assert task["result"] == "Ordered."
    offered = fake_llm.requests[0].body["tools"]
    assert [tool["function"]["name"] for tool in offered] == ["createOrder"]
    assert "body_params" in offered[0]["function"]["parameters"]["properties"]
    [call] = actions.received
    assert call.body == {"item": "tea", "count": 1}
    assert call.headers["x-shop-token"] == TOKEN
    assert call.headers["idempotency-key"].startswith(task["id"] + "/")
    assert "tea" in json.dumps(fake_llm.requests[-1].body["messages"][-1])


async def test_action_node_calls_the_operation_with_the_previous_output(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    actions: FakeActions,
    deploy_workflow: DeployWorkflow,
) -> None:
    toolkit = await imported(client, headers, actions)
    workflow_id = await deploy_workflow(
        {
            "name": "order",
            "output_format": "json",
            "orchestration_nodes": [
                {
                    "id": "shape",
                    "type": "code",
                    "definition": {
                        "code": "def main(data):\n    return {'item': 'tea', 'dry_run': True}\n"
                    },
                    "next_node_ids": ["order"],
                },
                {
                    "id": "order",
                    "type": "action",
                    "definition": {"asset_id": f"{toolkit['id']}_createOrder"},
                },
            ],
        }
    )
    actions.reset()
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke", json={"input": {"text": "go"}}, headers=headers
    )
    task = reply.json()
    assert task["status"] == "completed", task
    assert json.loads(task["result"]) == {"ok": True, "echo": {"item": "tea"}}
    [call] = actions.received
    assert call.query == {"dry_run": ["true"]}  # a query parameter's name goes to the query
    assert call.body == {"item": "tea"}  # the rest is the body
    [order_run] = [run for run in task["node_runs"] if run["node_id"] == "order"]
    assert call.headers["idempotency-key"] == f"{task['id']}/1/order@2/0"
    assert order_run["status"] == "completed"


async def test_action_node_fills_arguments_with_a_model_only_when_asked(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,
    actions: FakeActions,
    deploy_workflow: DeployWorkflow,
) -> None:
    toolkit = await imported(client, headers, actions)
    node = {"id": "read", "type": "action", "definition": {"asset_id": f"{toolkit['id']}_getOrder"}}
    plain = await deploy_workflow({"name": "plain", "orchestration_nodes": [node]})
    reply = await client.post(
        f"/v1/workflows/{plain}/invoke", json={"input": {"text": "order 42"}}, headers=headers
    )
    assert reply.json()["status"] == "error"
    assert "not a JSON object" in reply.json()["status_message"]
    assert fake_llm.requests == []

    asking = {**node, "definition": {**node["definition"], "fill_arguments_with_llm": True}}
    filled = await deploy_workflow({"name": "filled", "orchestration_nodes": [asking]})
    fake_llm.script(Reply.tool("answer", {"path_params": {"order_id": "42"}}))
    actions.reset()
    reply = await client.post(
        f"/v1/workflows/{filled}/invoke", json={"input": {"text": "order 42"}}, headers=headers
    )
    assert reply.json()["status"] == "completed", reply.json()
    assert actions.received[0].path == "/api/orders/42"


async def test_action_node_naming_an_unknown_operation_is_refused_when_saved(
    client: httpx.AsyncClient, headers: dict[str, str], actions: FakeActions
) -> None:
    toolkit = await imported(client, headers, actions)
    body = {
        "name": "bad",
        "orchestration_nodes": [
            {"id": "x", "type": "action", "definition": {"asset_id": f"{toolkit['id']}_nope"}}
        ],
    }
    reply = await client.post("/v1/workflows", json=body, headers=headers)
    assert reply.status_code == 422
    assert "node 'x' (action)" in reply.json()["detail"][0]["msg"]


async def test_an_agent_naming_an_unknown_toolkit_operation_is_refused_when_saved(
    client: httpx.AsyncClient, headers: dict[str, str], actions: FakeActions, other_key: str
) -> None:
    toolkit = await imported(client, headers, actions)
    bad = await client.post(
        "/v1/agents",
        json={"name": "a", "toolkit_tools": [f"{toolkit['id']}_nope"]},
        headers=headers,
    )
    assert bad.status_code == 422
    assert "nope" in bad.json()["detail"][0]["msg"]
    # another organization's toolkit is not there for this one
    foreign = await client.post(
        "/v1/agents",
        json={"name": "a", "toolkit_tools": [toolkit["id"]]},
        headers={"x-api-key": other_key},
    )
    assert foreign.status_code == 422
    whole = await client.post(
        "/v1/agents", json={"name": "a", "toolkit_tools": [toolkit["id"]]}, headers=headers
    )
    assert whole.status_code == 201, whole.text


async def test_action_node_retries_carry_the_node_runs_idempotency_key(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    actions: FakeActions,
    deploy_workflow: DeployWorkflow,
) -> None:
    body = {
        "name": "flaky",
        "base_url": actions.url,
        "operations": [{"id": "flaky", "method": "POST", "path": "/status/503"}],
    }
    toolkit = (await client.post("/v1/toolkits", json=body, headers=headers)).json()
    workflow_id = await deploy_workflow(
        {
            "name": "retrying",
            "orchestration_nodes": [
                {
                    "id": "call",
                    "type": "action",
                    "definition": {"asset_id": f"{toolkit['id']}_flaky"},
                    "retry_strategy": {"enabled": True, "max_retries": 2},
                }
            ],
        }
    )
    actions.reset()
    reply = await client.post(
        f"/v1/workflows/{workflow_id}/invoke",
        json={"input": {"text": json.dumps({"x": 1})}},
        headers=headers,
    )
    task = reply.json()
    assert task["status"] == "error", task
    assert task["status_reason"] == "action_failed"
    assert "HTTP 503" in task["status_message"]
    keys = [call.headers["idempotency-key"] for call in actions.received]
    assert keys == [f"{task['id']}/1/call@1/0"] * 3
    # an operation without a body takes what names no parameter in its query
    assert [call.query for call in actions.received] == [{"x": ["1"]}] * 3


async def test_action_node_call_is_on_the_stream(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    actions: FakeActions,
    deploy_workflow: DeployWorkflow,
) -> None:
    toolkit = await imported(client, headers, actions)
    node = {"id": "read", "type": "action", "definition": {"asset_id": f"{toolkit['id']}_getOrder"}}
    workflow_id = await deploy_workflow({"name": "streamed", "orchestration_nodes": [node]})
    events = await stream_invoke(
        client, headers, f"/v1/workflows/{workflow_id}", text=json.dumps({"order_id": "7"})
    )
    [request] = of_type(events, "tool_call_request")
    [result] = of_type(events, "tool_call_result")
    assert request["tool_name"] == f"{toolkit['id']}_getOrder"
    assert request["payload"] == {"path_params": {"order_id": "7"}}
    assert request["graph_node_id"] == "read"
    assert result["is_error"] is False
    assert events[-1]["data"]["status"] == "completed"


async def test_credentials_are_not_sent_to_a_moved_base_url(
    client: httpx.AsyncClient, headers: dict[str, str], actions: FakeActions
) -> None:
    toolkit = await imported(client, headers, actions)
    moved = actions.url.replace("127.0.0.1", "localhost")  # another origin, same server
    patched = await client.patch(
        f"/v1/toolkits/{toolkit['id']}", json={"base_url": moved}, headers=headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["tools"] == toolkit["tools"]  # the operations stay
    actions.reset()
    call = await client.post(
        f"/v1/toolkits/{toolkit['id']}/tools/getOrder",
        json={"path_params": {"order_id": "1"}},
        headers=headers,
    )
    assert call.status_code == 409
    assert "give them again" in call.json()["detail"]
    assert actions.received == []
    # given again with the new URL, they are used there
    await client.patch(
        f"/v1/toolkits/{toolkit['id']}", json={"headers": {"X-Shop-Token": TOKEN}}, headers=headers
    )
    call = await client.post(
        f"/v1/toolkits/{toolkit['id']}/tools/getOrder",
        json={"path_params": {"order_id": "1"}},
        headers=headers,
    )
    assert call.json()["is_error"] is False, call.text
    assert actions.received[0].headers["x-shop-token"] == TOKEN


async def test_the_sdks_tool_routes_load_and_call_an_operation_by_its_asset_id(
    client: httpx.AsyncClient, headers: dict[str, str], actions: FakeActions, other_key: str
) -> None:
    toolkit = await imported(client, headers, actions)
    asset = f"{toolkit['id']}_getOrder"
    loaded = await client.get(f"/tools/{asset}", headers=headers)
    assert loaded.status_code == 200, loaded.text
    tool = loaded.json()
    # the SDK sets method, path and the ids itself: a reply naming them would break its Tool()
    assert set(tool) == {"id", "name", "description", "parameters"}
    assert tool["id"] == asset
    assert tool["parameters"]["properties"]["path_params"]["required"] == ["order_id"]
    org = toolkit["organization_id"]
    for prefix in (f"/{org}", f"/agent-controller/{org}"):
        again = await client.get(f"{prefix}/tools/{asset}", headers=headers)
        assert again.json() == tool

    actions.reset()
    called = await client.post(
        f"/tools/{asset}", json={"path_params": {"order_id": "7"}}, headers=headers
    )
    assert called.status_code == 200, called.text
    assert called.json() == {"ok": True, "echo": {}}
    assert actions.received[0].path == "/api/orders/7"
    assert actions.received[0].headers["x-shop-token"] == TOKEN

    other = {"x-api-key": other_key}
    assert (await client.get(f"/tools/{asset}", headers=other)).status_code == 404
    assert (await client.get(f"/tools/{toolkit['id']}", headers=headers)).status_code == 404
    assert (await client.get(f"/tools/{toolkit['id']}_nope", headers=headers)).status_code == 404
    missing = await client.post(f"/tools/{asset}", json={}, headers=headers)
    assert missing.status_code == 422


async def test_an_sdk_tool_call_the_api_refuses_is_a_502_with_its_answer(
    client: httpx.AsyncClient, headers: dict[str, str], actions: FakeActions
) -> None:
    body = {
        "name": "flaky",
        "base_url": actions.url,
        "operations": [{"id": "teapot", "method": "GET", "path": "/status/418"}],
    }
    created = await client.post("/v1/toolkits", json=body, headers=headers)
    assert created.status_code == 201, created.text
    called = await client.post(f"/tools/{created.json()['id']}_teapot", json={}, headers=headers)
    assert called.status_code == 502
    assert called.json()["status_code"] == 418
    assert "status 418" in called.json()["result"]
