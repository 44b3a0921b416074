"""Fixtures: the server under test, a plain HTTP client for taskloom's /v1 API, and the SDK's
Configuration in both base URL styles (docs/xpander-sdk.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from xpander_sdk import Configuration

from support import Deploy, Server


@pytest.fixture(scope="session")
def server() -> Server:
    return Server.from_env()


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """taskloom's public REST API (/v1), as curl users and the xpander CLI reach it."""
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"x-api-key": server.api_key}, timeout=30.0
    ) as client:
        yield client


@pytest.fixture
def deploy(http: httpx.AsyncClient) -> Deploy:
    """Create a workflow through /v1/workflows, deploy it (PUT), return its id."""

    async def create_and_deploy(body: dict[str, Any]) -> str:
        created = await http.post("/v1/workflows", json=body)
        assert created.status_code == 201, created.text
        workflow_id: str = created.json()["id"]
        deployed = await http.put(f"/v1/workflows/{workflow_id}")
        assert deployed.status_code == 200, deployed.text
        return workflow_id

    return create_and_deploy


@pytest.fixture(params=["plain", "agent-controller"])
def config(request: pytest.FixtureRequest, server: Server) -> Configuration:
    """The SDK pointed at taskloom. `plain`: REST at {base}/..., events at {base}/{org}/...;
    `agent-controller`: a base the SDK takes for a controller, so everything is under
    {base}/agent-controller/{org}/..."""
    base_url = server.base_url
    if request.param == "agent-controller":
        base_url += "/agent-controller"
    configuration = Configuration(
        api_key=server.api_key, base_url=base_url, organization_id=server.organization_id
    )
    expected_root = (
        f"{base_url}/{server.organization_id}" if request.param == "agent-controller" else base_url
    )
    assert configuration.get_full_url() == expected_root, "the SDK's URL rules changed"
    return configuration
