"""Credentials in agent definitions without I/O: inline values move into named secrets, a run
gets them back only for the origin they were given for."""

from __future__ import annotations

from typing import Any

import pytest

from taskloom.agents.credentials import (
    REDACTED,
    CredentialsRefused,
    redacted,
    restored,
    stored_credentials,
    with_credentials,
)
from taskloom.agents.definition import AgentSpec


class Vault:
    """The secret store as `stored_credentials` and `with_credentials` see it."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def store(self, name: str, value: str) -> None:
        self.values[name] = value

    async def reveal(self, name: str) -> str:
        return self.values[name]


def spec(**fields: Any) -> AgentSpec:
    return AgentSpec.model_validate({"name": "a", **fields})


TOOL = {"name": "crm", "url": "https://crm.example.com/find", "headers": {"X-Key": "k-123"}}
SERVER = {
    "name": "docs",
    "url": "https://mcp.example.com/mcp",
    "api_key": "mcp-456",
    "client_secret": "cs-789",
    "headers": {"X-Tenant": "t-000"},
}


async def test_stored_credentials_keep_no_value_in_the_definition() -> None:
    vault = Vault()
    stored = await stored_credentials(
        spec(tools=[TOOL], mcp_servers=[SERVER]), agent_id="A", store=vault.store
    )
    dumped = str(stored.model_dump(mode="json", exclude_none=True))
    for value in ("k-123", "mcp-456", "cs-789", "t-000"):
        assert value not in dumped
    assert stored.tools[0].credential_refs == {"headers.X-Key": "agent-A-tool-crm-header-x-key"}
    assert stored.mcp_servers[0].credential_refs == {
        "api_key": "agent-A-mcp-docs-api_key",
        "client_secret": "agent-A-mcp-docs-client_secret",
        "headers.X-Tenant": "agent-A-mcp-docs-header-x-tenant",
    }
    assert len(vault.values) == 4


async def test_with_credentials_puts_the_values_back_for_a_run() -> None:
    vault = Vault()
    stored = await stored_credentials(
        spec(tools=[TOOL], mcp_servers=[SERVER]), agent_id="A", store=vault.store
    )
    run = await with_credentials(stored, vault.reveal)
    assert run.tools[0].headers == {"X-Key": "k-123"}
    server = run.mcp_servers[0]
    assert (server.api_key, server.headers) == ("mcp-456", {"X-Tenant": "t-000"})
    assert (server.model_extra or {})["client_secret"] == "cs-789"


async def test_with_credentials__a_tool_moved_to_another_origin_is_refused() -> None:
    vault = Vault()
    stored = await stored_credentials(spec(tools=[TOOL]), agent_id="A", store=vault.store)
    moved = stored.model_copy(
        update={"tools": [stored.tools[0].model_copy(update={"url": "https://evil.example/x"})]}
    )
    with pytest.raises(CredentialsRefused, match=r"https://crm\.example\.com:443"):
        await with_credentials(moved, vault.reveal)


async def test_with_credentials__same_origin_other_path_is_fine() -> None:
    vault = Vault()
    stored = await stored_credentials(spec(tools=[TOOL]), agent_id="A", store=vault.store)
    tool = stored.tools[0].model_copy(update={"url": "https://CRM.example.com:443/other"})
    run = await with_credentials(stored.model_copy(update={"tools": [tool]}), vault.reveal)
    assert run.tools[0].headers == {"X-Key": "k-123"}


async def test_with_credentials__a_reference_to_a_plain_secret_is_refused() -> None:
    # a provider key put with PUT /v1/secrets stays write-only: no tool may carry it off
    vault = Vault()
    vault.values["team-openai"] = "sk-team"
    tool = {**TOOL, "headers": {}, "credential_refs": {"headers.Authorization": "team-openai"}}
    with pytest.raises(CredentialsRefused, match="not stored as a tool credential"):
        await with_credentials(spec(tools=[tool]), vault.reveal)


async def test_stored_credentials__a_new_inline_value_replaces_the_reference_case_blind() -> None:
    vault = Vault()
    first = await stored_credentials(spec(tools=[TOOL]), agent_id="A", store=vault.store)
    again = first.tools[0].model_copy(update={"headers": {"x-key": "k-999"}})
    second = await stored_credentials(
        first.model_copy(update={"tools": [again]}), agent_id="A", store=vault.store
    )
    assert list(second.tools[0].credential_refs) == ["headers.x-key"]
    run = await with_credentials(second, vault.reveal)
    assert run.tools[0].headers == {"x-key": "k-999"}


def test_restored__a_masked_value_with_nothing_stored_behind_it_is_dropped() -> None:
    sent = {"headers": {"Authorization": REDACTED, "Accept": "json"}}
    assert restored(sent, {"headers": {}}) == {"headers": {"Accept": "json"}}


def test_redacted_shows_references_and_masks_inline_values() -> None:
    tool = {**TOOL, "credential_refs": {"headers.Y": "agent-A-tool-crm-header-y"}}
    shown = redacted({"tools": [tool]})["tools"][0]
    assert shown["headers"] == {"X-Key": REDACTED}
    assert shown["credential_refs"] == {"headers.Y": "agent-A-tool-crm-header-y"}
