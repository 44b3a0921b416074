"""`/docs` and `/redoc` work with no internet: every script, style and icon they load is served
by taskloom itself."""

from __future__ import annotations

import re

import httpx
import pytest

from taskloom.api.app import create_app
from taskloom.config import Settings


@pytest.fixture
async def http() -> httpx.AsyncClient:
    # the pages need no store: the app is served without its lifespan
    app = create_app(Settings(database_url="sqlite:///never-opened.db"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://taskloom")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_page_loads_nothing_from_another_host(
    http: httpx.AsyncClient, page: str
) -> None:
    async with http:
        reply = await http.get(page)
        assert reply.status_code == 200
        html = reply.text
        assert re.findall(r"(?:https?:)?//[\w.-]+", html) == []  # no absolute URL at all
        loaded = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        loaded += re.findall(r"""(?:url|spec-url)\s*[:=]\s*["']([^"']+)["']""", html)
        assert "/openapi.json" in loaded
        for url in loaded:
            asset = await http.get(url)
            assert asset.status_code == 200, url
            assert asset.content


async def test_fastapi_cdn_pages_are_not_served_beside_them(http: httpx.AsyncClient) -> None:
    async with http:
        html = (await http.get("/docs")).text
    assert "cdn.jsdelivr.net" not in html
    assert "/docs-assets/swagger-ui-bundle.js" in html
