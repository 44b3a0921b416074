"""LLM tests: one fake model server per session, and settings that point taskloom at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from taskloom.config import Settings
from tests.conftest import test_settings
from tests.support.fake_llm import FakeLLM

OPENAI_KEY = "sk-taskloom-test-openai-5d41402abc4b2a76"
ANTHROPIC_KEY = "sk-ant-taskloom-test-7d793037a0760186"
SECRETS = (OPENAI_KEY, ANTHROPIC_KEY)


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLM) -> Iterator[FakeLLM]:
    fake_llm_server.reset()
    yield fake_llm_server
    fake_llm_server.reset()


@pytest.fixture
def llm_overrides() -> dict[str, Any]:
    """Per-test LLM settings; override with `@pytest.mark.parametrize("llm_overrides", ...)`."""
    return {}


def llm_settings(fake: FakeLLM, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "llm_openai_base_url": fake.openai_base_url,
        "llm_anthropic_base_url": fake.anthropic_base_url,
        # the same server under another name: an endpoint a workflow may name, sent no key
        "llm_allowed_api_bases": [fake.openai_base_url.replace("127.0.0.1", "localhost")],
        "openai_api_key": OPENAI_KEY,
        "anthropic_api_key": ANTHROPIC_KEY,
        "llm_request_timeout_s": 10.0,
        "llm_max_retries": 2,
        "llm_backoff_s": 0.01,
        "llm_max_backoff_s": 0.05,
    }
    values.update(overrides)
    return values


@pytest.fixture
def settings(database_url: str, fake_llm: FakeLLM, llm_overrides: dict[str, Any]) -> Settings:
    return test_settings(database_url, **llm_settings(fake_llm, **llm_overrides))
