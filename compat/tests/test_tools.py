"""The SDK's standalone tools: `ToolsRepository.aload_tool_by_id` on a taskloom toolkit
operation, then the tool's invocation function, against a small HTTP API on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from xpander_sdk import Configuration, ToolsRepository


class _Orders(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def orders_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Orders)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


async def test_a_toolkit_operation_loads_and_runs_as_a_standalone_tool(
    config: Configuration, http: httpx.AsyncClient, orders_api: str
) -> None:
    operation = {
        "id": "getOrder",
        "method": "GET",
        "path": "/orders/{order_id}",
        "description": "Read an order",
        "parameters": [{"name": "order_id", "location": "path", "required": True}],
    }
    created = await http.post(
        "/v1/toolkits", json={"name": "orders", "base_url": orders_api, "operations": [operation]}
    )
    assert created.status_code == 201, created.text
    tool_id = f"{created.json()['id']}_getOrder"

    repository = ToolsRepository(configuration=config)
    await repository.aload_tool_by_id(tool_id)

    (tool,) = repository.tools
    assert tool.id == tool_id
    assert tool.description == "Read an order"
    invoke = tool.get_invocation_function(is_async=True)
    result = await invoke({"path_params": {"order_id": "7"}})
    assert result.is_success, result.result
    assert result.result == {"path": "/orders/7"}
