"""`/v1/knowledge` on both stores, with the real local embedding model: documents uploaded
(Markdown, PDF, Word) and fetched by URL, ingested in the background, searched, deleted."""

from __future__ import annotations

import httpx
import pytest

from taskloom.config import Settings
from tests.conftest import test_settings as settings_for
from tests.knowledge.conftest import DocumentServer, processed
from tests.knowledge.documents import docx_bytes, pdf_bytes

HANDBOOK = """# Employee handbook

## Holidays

Every employee gets twenty-eight days of paid holiday a year. Unused days carry over until
the end of March.

## Expenses

Travel expenses are refunded within ten working days when the receipts are uploaded to the
finance portal. Meals are covered up to forty euros a day.
"""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(
        database_url, egress_allowed_networks=["127.0.0.0/8"], knowledge_poll_s=0.05
    )


async def new_kb(client: httpx.AsyncClient, headers: dict[str, str], name: str = "docs") -> str:
    created = await client.post(
        "/v1/knowledge", json={"name": name, "description": "company docs"}, headers=headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["total_documents"] == 0
    return str(body["id"])


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    kb_id: str,
    files: list[tuple[str, bytes, str]],
) -> httpx.Response:
    return await client.post(
        f"/v1/knowledge/{kb_id}/documents",
        files=[("file", (name, content, kind)) for name, content, kind in files],
        headers=headers,
    )


async def test_knowledge_base_crud(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    kb_id = await new_kb(client, headers)
    got = await client.get(f"/v1/knowledge/{kb_id}", headers=headers)
    assert got.json()["name"] == "docs"
    patched = await client.patch(f"/v1/knowledge/{kb_id}", json={"name": "hr"}, headers=headers)
    assert patched.status_code == 200
    assert patched.json()["name"] == "hr"
    listed = await client.get("/v1/knowledge", headers=headers)
    assert [kb["id"] for kb in listed.json()["items"]] == [kb_id]
    assert listed.json()["total"] == 1
    deleted = await client.delete(f"/v1/knowledge/{kb_id}", headers=headers)
    assert deleted.status_code == 202
    assert (await client.get(f"/v1/knowledge/{kb_id}", headers=headers)).status_code == 404


async def test_knowledge_base__other_org_is_not_found(
    client: httpx.AsyncClient, headers: dict[str, str], other_key: str
) -> None:
    kb_id = await new_kb(client, headers)
    other = {"x-api-key": other_key}
    for response in (
        await client.get(f"/v1/knowledge/{kb_id}", headers=other),
        await client.get(f"/v1/knowledge/{kb_id}/search?search_query=holiday", headers=other),
        await client.delete(f"/v1/knowledge/{kb_id}", headers=other),
        await client.post(
            f"/v1/knowledge/{kb_id}/documents",
            json={"document_urls": ["https://x.test/a"]},
            headers=other,
        ),
    ):
        assert response.status_code == 404, response.text
    assert (await client.get("/v1/knowledge", headers=other)).json()["items"] == []


async def test_uploads_are_ingested_in_the_background_and_searchable(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    kb_id = await new_kb(client, headers)
    added = await upload(
        client,
        headers,
        kb_id,
        [
            ("handbook.md", HANDBOOK.encode(), "text/markdown"),
            (
                "security.pdf",
                pdf_bytes(["Badges must be worn visibly in the office at all times."]),
                "application/pdf",
            ),
            (
                "parking.docx",
                docx_bytes(
                    [
                        ("heading", "Parking"),
                        (
                            "text",
                            "Bicycles are parked in the basement garage behind the blue door.",
                        ),
                    ]
                ),
                "application/octet-stream",
            ),
        ],
    )
    assert added.status_code == 201, added.text
    assert [(d["name"], d["id"], d["kb_id"]) for d in added.json()] == [
        ("handbook.md", None, kb_id),
        ("security.pdf", None, kb_id),
        ("parking.docx", None, kb_id),
    ]
    documents = await processed(client, headers, kb_id, 3)
    assert {d["status"] for d in documents} == {"ready"}, documents
    assert all(d["id"] and d["chunk_count"] >= 1 for d in documents)

    for question, expected in (
        ("how many days of paid holiday do I get", "twenty-eight days"),
        ("when are travel expenses refunded", "refunded within ten working days"),
        ("where do I park my bicycle", "basement garage"),
        ("must badges be worn", "Badges must be worn"),
    ):
        found = await client.get(
            f"/v1/knowledge/{kb_id}/search",
            params={"search_query": question, "top_k": 2},
            headers=headers,
        )
        assert found.status_code == 200, found.text
        results = found.json()
        assert 1 <= len(results) <= 2
        assert expected in results[0]["content"], (question, results)
        assert isinstance(results[0]["score"], float)
        assert results[0]["document_name"] in {d["name"] for d in documents}


async def test_section_headings_stay_with_their_chunks(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    kb_id = await new_kb(client, headers)
    await upload(client, headers, kb_id, [("handbook.md", HANDBOOK.encode(), "text/markdown")])
    await processed(client, headers, kb_id, 1)
    found = await client.get(
        f"/v1/knowledge/{kb_id}/search",
        params={"search_query": "meals forty euros", "top_k": 1},
        headers=headers,
    )
    assert found.json()[0]["section"] == "Employee handbook > Expenses"


async def test_delete_document_removes_its_chunks(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    kb_id = await new_kb(client, headers)
    await upload(
        client,
        headers,
        kb_id,
        [
            ("handbook.md", HANDBOOK.encode(), "text/markdown"),
            ("other.txt", b"The cafeteria opens at eight in the morning.", "text/plain"),
        ],
    )
    documents = await processed(client, headers, kb_id, 2)
    handbook = next(d for d in documents if d["name"] == "handbook.md")
    gone = await client.delete(f"/v1/knowledge/{kb_id}/documents/{handbook['id']}", headers=headers)
    assert gone.status_code == 202
    assert (
        await client.get(f"/v1/knowledge/{kb_id}/documents/{handbook['id']}", headers=headers)
    ).status_code == 404
    for mode in ("auto", "fulltext"):
        found = await client.get(
            f"/v1/knowledge/{kb_id}/search",
            params={
                "search_query": "paid holiday days expenses refunded",
                "top_k": 10,
                "mode": mode,
            },
            headers=headers,
        )
        assert [r["document_name"] for r in found.json()] in ([], ["other.txt"]), found.json()


async def test_document_urls_are_fetched(
    client: httpx.AsyncClient, headers: dict[str, str], documents: DocumentServer
) -> None:
    documents.files["/guide.html"] = (
        b"<html><body><h1>Guide</h1><p>The VPN password rotates every ninety days.</p>"
        b"<script>ignored()</script></body></html>",
        "text/html",
    )
    kb_id = await new_kb(client, headers)
    url = documents.url("/guide.html")
    added = await client.post(
        f"/v1/knowledge/{kb_id}/documents",
        json={"document_urls": [url, documents.url("/missing.txt")]},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    assert [(d["name"], d["document_url"], d["id"]) for d in added.json()] == [
        ("guide.html", url, None),
        ("missing.txt", documents.url("/missing.txt"), None),
    ]
    fetched = await processed(client, headers, kb_id, 1)
    guide = next(d for d in fetched if d["name"] == "guide.html")
    assert guide["status"] == "ready"
    found = await client.get(
        f"/v1/knowledge/{kb_id}/search",
        params={"search_query": "how often does the VPN password rotate"},
        headers=headers,
    )
    assert "ninety days" in found.json()[0]["content"]
    assert "ignored" not in found.json()[0]["content"]


async def test_bad_input_is_refused(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    kb_id = await new_kb(client, headers)
    base = f"/v1/knowledge/{kb_id}"
    cases = [
        await client.post(base + "/documents", json={"document_urls": []}, headers=headers),
        await client.post(
            base + "/documents", json={"document_urls": ["file:///etc/passwd"]}, headers=headers
        ),
        await client.post(
            base + "/documents",
            content=b"not json",
            headers={**headers, "content-type": "application/json"},
        ),
        await client.get(
            base + "/search", params={"search_query": "x", "top_k": 51}, headers=headers
        ),
        await client.get(base + "/search", params={"search_query": ""}, headers=headers),
        await client.get(
            base + "/search", params={"search_query": "x", "mode": "magic"}, headers=headers
        ),
        await client.post("/v1/knowledge", json={"name": ""}, headers=headers),
        await client.post("/v1/knowledge", json={"name": "a\u0000b"}, headers=headers),
    ]
    assert [r.status_code for r in cases] == [422] * len(cases), [r.text for r in cases]


async def test_upload_past_the_size_limit_is_refused(database_url: str, tmp_path: object) -> None:
    from taskloom.api.app import create_app
    from tests.conftest import new_key

    app = create_app(settings_for(database_url, knowledge_max_file_bytes=1000))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = {"x-api-key": await new_key(database_url, "acme")}
            kb_id = await new_kb(client, headers)
            refused = await upload(client, headers, kb_id, [("big.txt", b"x" * 1001, "text/plain")])
            assert refused.status_code == 413, refused.text
            listed = await client.get(f"/v1/knowledge/{kb_id}/documents", headers=headers)
            assert listed.json()["items"] == []


async def test_unreadable_upload_fails_with_a_reason(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    kb_id = await new_kb(client, headers)
    await upload(
        client, headers, kb_id, [("broken.pdf", b"%PDF-1.4 nothing else", "application/pdf")]
    )
    [document] = await processed(client, headers, kb_id, 1)
    assert document["status"] == "failed"
    assert "could not be read as pdf" in document["error"]


async def test_a_nul_inside_a_text_document_is_dropped(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    kb_id = await new_kb(client, headers)
    text = b"filler " * 1000 + b"the secret\x00word is kumquat"
    await upload(client, headers, kb_id, [("late-nul.txt", text, "text/plain")])
    [document] = await processed(client, headers, kb_id, 1)
    assert document["status"] == "ready", document
    found = await client.get(
        f"/v1/knowledge/{kb_id}/search",
        params={"search_query": "kumquat", "mode": "fulltext", "top_k": 1},
        headers=headers,
    )
    assert "the secretword is kumquat" in found.json()[0]["content"]
