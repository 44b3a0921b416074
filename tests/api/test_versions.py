"""Deployed versions through the API: the list, and one version read back as it was deployed
while the draft moves on."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.workflows import code_node


def _workflow(answer: str, *, name: str = "versions") -> dict[str, Any]:
    return {"name": name, "orchestration_nodes": [code_node("answer", f"return {answer!r}")]}


def _code_of(body: dict[str, Any]) -> str:
    code: str = body["orchestration_nodes"][0]["definition"]["code"]
    return code


async def _two_versions_and_a_draft(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    created = await client.post("/v1/workflows", json=_workflow("one"), headers=headers)
    workflow_id: str = created.json()["id"]
    await client.put(f"/v1/workflows/{workflow_id}", headers=headers)
    second = _workflow("two", name="renamed")
    await client.patch(f"/v1/workflows/{workflow_id}?deploy=true", json=second, headers=headers)
    draft = {"orchestration_nodes": _workflow("three")["orchestration_nodes"]}
    await client.patch(f"/v1/workflows/{workflow_id}", json=draft, headers=headers)
    return workflow_id


async def test_workflow_version_reads_each_deployed_definition(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    workflow_id = await _two_versions_and_a_draft(client, headers)
    first = (await client.get(f"/v1/workflows/{workflow_id}/versions/1", headers=headers)).json()
    second = (await client.get(f"/v1/workflows/{workflow_id}/versions/2", headers=headers)).json()
    assert "'one'" in _code_of(first)
    assert "'two'" in _code_of(second)
    assert (first["id"], first["version"], first["is_latest"]) == (workflow_id, 1, False)
    assert (second["version"], second["is_latest"], second["name"]) == (2, True, "renamed")
    assert first["name"] == "versions"
    assert first["has_pending_changes"] is False
    assert first["deployed_at"] is not None


async def test_workflow_version_is_not_the_draft(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    workflow_id = await _two_versions_and_a_draft(client, headers)
    draft = (await client.get(f"/v1/workflows/{workflow_id}", headers=headers)).json()
    latest = (await client.get(f"/v1/workflows/{workflow_id}/versions/2", headers=headers)).json()
    assert "'three'" in _code_of(draft)
    assert draft["has_pending_changes"] is True
    assert "'two'" in _code_of(latest)


async def test_workflow_versions_list_names_each_version(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    workflow_id = await _two_versions_and_a_draft(client, headers)
    listed = (await client.get(f"/v1/workflows/{workflow_id}/versions", headers=headers)).json()
    assert [(v["version"], v["is_latest"]) for v in listed] == [(1, False), (2, True)]


async def test_workflow_version_never_deployed_is_404(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    workflow_id = await _two_versions_and_a_draft(client, headers)
    reply = await client.get(f"/v1/workflows/{workflow_id}/versions/3", headers=headers)
    assert reply.status_code == 404
    assert "version 3" in reply.json()["detail"]


async def test_workflow_version_of_another_organization_is_404(
    client: httpx.AsyncClient, headers: dict[str, str], other_key: str
) -> None:
    workflow_id = await _two_versions_and_a_draft(client, headers)
    reply = await client.get(
        f"/v1/workflows/{workflow_id}/versions/1", headers={"x-api-key": other_key}
    )
    assert reply.status_code == 404


async def test_workflow_version_out_of_range_is_422(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    workflow_id = await _two_versions_and_a_draft(client, headers)
    for bad in ("0", "-1", str(2**31), "draft", "9" * 40):
        reply = await client.get(f"/v1/workflows/{workflow_id}/versions/{bad}", headers=headers)
        assert reply.status_code == 422, bad
        assert reply.json()["detail"][0]["loc"] == ["path", "version"]


async def test_agent_version_reads_the_deployed_agent(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await client.post("/v1/agents", json={"name": "helper"}, headers=headers)
    agent_id = created.json()["id"]
    patch = {"instructions": {"general": "first"}}
    await client.patch(f"/v1/agents/{agent_id}?deploy=true", json=patch, headers=headers)
    later = {"instructions": {"general": "second"}}
    await client.patch(f"/v1/agents/{agent_id}", json=later, headers=headers)
    version = (await client.get(f"/v1/agents/{agent_id}/versions/1", headers=headers)).json()
    assert version["instructions"]["general"] == "first"
    assert (version["version"], version["is_latest"]) == (1, True)
    as_workflow = await client.get(f"/v1/workflows/{agent_id}/versions/1", headers=headers)
    assert as_workflow.status_code == 404
