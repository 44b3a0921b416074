"""Fixtures of the crash tests: a cluster of real processes, an HTTP client, the raw store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.engine.crash.harness import Cluster, Store


@pytest.fixture
def cluster(database_url: str, tmp_path: Path) -> Iterator[Cluster]:
    logs = tmp_path / "logs"
    logs.mkdir()
    started = Cluster(database_url, logs)
    try:
        yield started
    finally:
        started.kill_all()
        started.print_log_tails()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15.0) as client:
        yield client


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store(database_url)
    try:
        yield opened
    finally:
        await opened.close()
