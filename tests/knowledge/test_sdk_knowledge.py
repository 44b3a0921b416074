"""The xpander-sdk's `/knowledge_bases` routes, bare and under the organization's prefix."""

from __future__ import annotations

import httpx
import pytest

from taskloom.config import Settings
from tests.conftest import test_settings as settings_for
from tests.knowledge.conftest import DocumentServer, processed
from tests.knowledge.test_knowledge_api import HANDBOOK


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(
        database_url, knowledge_poll_s=0.05, egress_allowed_networks=["127.0.0.0/8"]
    )


async def test_sdk_knowledge_base_routes(
    client: httpx.AsyncClient, headers: dict[str, str], other_key: str
) -> None:
    created = await client.post(
        "/knowledge_bases/create", json={"name": "sdk kb", "description": "d"}, headers=headers
    )
    assert created.status_code == 201, created.text
    kb = created.json()
    prefix = f"/{kb['organization_id']}/knowledge_bases"
    assert [b["id"] for b in (await client.get(prefix, headers=headers)).json()] == [kb["id"]]
    added = await client.post(
        f"/knowledge_bases/{kb['id']}",
        files=[("file", ("handbook.md", HANDBOOK.encode(), "text/markdown"))],
        headers=headers,
    )
    assert added.status_code == 201, added.text
    await processed(client, headers, kb["id"], 1)
    details = await client.get(f"{prefix}/{kb['id']}/details", headers=headers)
    assert details.json()["total_documents"] == 1
    [document] = (await client.get(f"{prefix}/{kb['id']}/list", headers=headers)).json()
    assert document["name"] == "handbook.md"
    found = await client.get(
        f"{prefix}/{kb['id']}", params={"search_query": "paid holiday"}, headers=headers
    )
    assert "twenty-eight days" in found.json()[0]["content"]
    # another organization sees nothing, under its own key or this organization's prefix
    other = {"x-api-key": other_key}
    assert (await client.get("/knowledge_bases", headers=other)).json() == []
    assert (await client.get(f"{prefix}/{kb['id']}/details", headers=other)).status_code in (
        403,
        404,
    )
    assert document["document_url"] == "handbook.md"  # the SDK needs one: an upload's name
    removed = await client.request(
        "DELETE", f"/knowledge_bases/{kb['id']}", json=[document["id"]], headers=headers
    )
    assert removed.status_code == 202, removed.text
    assert (await client.get(f"{prefix}/{kb['id']}/list", headers=headers)).json() == []
    erased = await client.delete(f"/knowledge_bases/{kb['id']}/erase", headers=headers)
    assert erased.status_code == 202
    assert (await client.get("/knowledge_bases", headers=headers)).json() == []


async def test_sdk_adds_documents_by_url_and_waits_with_sync(
    client: httpx.AsyncClient, headers: dict[str, str], documents: DocumentServer
) -> None:
    documents.files["/faq.md"] = (b"# FAQ\n\nThe office closes at six.", "text/markdown")
    kb = (await client.post("/knowledge_bases/create", json={"name": "k"}, headers=headers)).json()
    url = documents.url("/faq.md")
    added = await client.post(
        f"/knowledge_bases/{kb['id']}",
        json=[{"document_url": url, "sync": True}],
        headers=headers,
    )
    assert added.status_code == 201, added.text
    [document] = added.json()
    # `sync`: the reply came once the document was processed, with its id
    assert (document["status"], document["document_url"]) == ("ready", url)
    assert document["id"]
    found = await client.get(
        f"/knowledge_bases/{kb['id']}",
        params={"search_query": "when does the office close"},
        headers=headers,
    )
    assert found.json()[0]["content"] == "The office closes at six."
