"""An agent with knowledge bases gets a search tool; its results cite document and chunk."""

from __future__ import annotations

import json

import httpx
import pytest

from taskloom.config import Settings
from tests.conftest import test_settings as settings_for
from tests.knowledge.conftest import processed
from tests.knowledge.test_knowledge_api import HANDBOOK, new_kb, upload
from tests.llm.conftest import fake_llm, fake_llm_server, llm_settings  # noqa: F401
from tests.llm.test_agents_api import deployed_agent, invoke
from tests.support.fake_llm import FakeLLM, Reply


@pytest.fixture
def settings(database_url: str, fake_llm: FakeLLM) -> Settings:  # noqa: F811
    return settings_for(database_url, **llm_settings(fake_llm), knowledge_poll_s=0.05)


def tool_messages(body: dict[str, object]) -> list[dict[str, object]]:
    messages = body["messages"]
    assert isinstance(messages, list)
    return [m for m in messages if m["role"] == "tool"]


async def test_agent_searches_its_knowledge_bases_with_citations(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,  # noqa: F811
) -> None:
    kb_id = await new_kb(client, headers)
    await upload(client, headers, kb_id, [("handbook.md", HANDBOOK.encode(), "text/markdown")])
    [document] = await processed(client, headers, kb_id, 1)
    agent_id = await deployed_agent(client, headers, knowledge_bases=[kb_id])
    got = await client.get(f"/v1/agents/{agent_id}", headers=headers)
    assert got.json()["knowledge_bases"] == [{"id": kb_id}]

    fake_llm.script(
        Reply.tool("search_knowledge", {"query": "paid holiday days", "top_k": 1}),
        Reply.say("You get twenty-eight days (handbook.md)."),
    )
    task = await invoke(client, headers, agent_id, "How much holiday do I get?")
    assert task["status"] == "completed", task
    assert task["result"] == "You get twenty-eight days (handbook.md)."

    offered = [tool["function"]["name"] for tool in fake_llm.requests[0].body["tools"]]
    assert offered == ["search_knowledge"]
    [reply] = tool_messages(fake_llm.requests[1].body)
    [result] = json.loads(str(reply["content"]))["results"]
    assert "twenty-eight days" in result["content"]
    source = result["source"]
    assert source["knowledge_base_id"] == kb_id
    assert source["document_id"] == document["id"]
    assert source["document_name"] == "handbook.md"
    assert isinstance(source["chunk_id"], int)
    assert source["section"] == "Employee handbook > Holidays"


async def test_agent_with_a_missing_knowledge_base_reads_an_error(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    fake_llm: FakeLLM,  # noqa: F811
) -> None:
    agent_id = await deployed_agent(client, headers, knowledge_bases=[{"id": "no-such-kb"}])
    fake_llm.script(
        Reply.tool("search_knowledge", {"query": "anything"}),
        Reply.say("I could not search."),
    )
    task = await invoke(client, headers, agent_id, "search please")
    assert task["status"] == "completed", task
    [reply] = tool_messages(fake_llm.requests[1].body)
    assert "knowledge base no-such-kb not found" in str(reply["content"])
