"""Wire shapes of docs/api.md: the invoke request, and Task / Workflow as JSON."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from taskloom.agents.credentials import redacted
from taskloom.engine.wire import iso
from taskloom.store.records import WorkflowRecord
from taskloom.workflows.definition import Name


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class User(_Open):
    email: str | None = None
    id: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class ExecutionInput(_Open):
    text: str = ""
    files: list[str] = Field(default_factory=list)
    user: User | None = None


class InvokeRequest(_Open):
    """`AgentExecutionRequest`: the body of every invoke route."""

    input: ExecutionInput
    id: Name | None = Field(default=None, min_length=1, max_length=64)
    payload_extension: dict[str, Any] | None = None
    parent_execution_id: str | None = None
    worker_id: str | None = None
    source: str | None = None
    output_format: Literal["text", "markdown", "json", "voice"] | None = None
    output_schema: dict[str, Any] | None = None
    run_locally: bool = False
    additional_context: str | None = None
    instructions_override: str | None = None
    test_run_node_id: str | None = None
    expected_output: str | None = None
    events_streaming: bool = False
    mcp_servers: list[dict[str, Any]] = Field(default_factory=list)
    triggering_agent_id: str | None = None
    title: str | None = None
    think_mode: Literal["default", "harder"] = "default"
    disable_attachment_injection: bool = False
    user_tokens: dict[str, Any] | None = None
    user_oidc_token: str | None = None
    return_metrics: bool = False
    llm_model_provider: str | None = None
    llm_model_name: str | None = None
    llm_reasoning_effort: Literal["low", "medium", "high", "xhigh"] | None = None


def workflow_json(workflow: WorkflowRecord, *, base_url: str) -> dict[str, Any]:
    """`WorkflowResponse`: the AIAgent shape of a workflow (type `orchestration`)."""
    draft = redacted(workflow.draft)
    return {
        **{k: v for k, v in draft.items() if k != "name"},
        "id": workflow.id,
        "name": workflow.name,
        "organization_id": workflow.organization_id,
        "type": "orchestration",
        "status": workflow.status,
        "version": workflow.latest_version or 0,
        "is_latest": True,
        "has_pending_changes": workflow.has_pending_changes,
        "deployment_type": "serverless",
        "access_scope": "organizational",
        "deletable": True,
        "webhook_url": f"{base_url}/webhook?agent_id={workflow.id}",
        "created_at": iso(workflow.created_at),
        "updated_at": iso(workflow.updated_at),
    }


def page_json(
    items: list[dict[str, Any]], *, total: int, page: int, per_page: int
) -> dict[str, Any]:
    return {
        "items": items,
        "total": total,
        "page": page,
        "per_page": per_page,
        "total_pages": (total + per_page - 1) // per_page,
    }


def agent_json(agent: WorkflowRecord, *, base_url: str) -> dict[str, Any]:
    """`AIAgent` (docs/api.md), as the xpander-sdk reads it too (`unique_name`, `graph`, ...)."""
    draft = redacted(agent.draft)
    return {
        "unique_name": agent.id,
        "graph": [],
        "attached_tools": [],
        "source_nodes": [],
        "knowledge_bases": [],
        "prompts": [],
        "delegation_end_strategy": "return-to-start",
        "delegation_type": "router",
        "delegation_memory_strategy": "full",
        "is_ai_employee": False,
        "using_nemo": False,
        "model_provider": "openai",
        "model_name": None,
        **draft,
        "id": agent.id,
        "name": agent.name,
        "organization_id": agent.organization_id,
        "status": agent.status,
        "version": agent.latest_version or 0,
        "is_latest": True,
        "has_pending_changes": agent.has_pending_changes,
        "access_scope": "organizational",
        "deletable": True,
        "webhook_url": f"{base_url}/webhook?agent_id={agent.id}",
        "created_at": iso(agent.created_at),
        "updated_at": iso(agent.updated_at),
    }


def minimal_agent_json(agent: WorkflowRecord) -> dict[str, Any]:
    """`MinimalAIAgent`: what agent lists show."""
    draft = agent.draft
    return {
        "id": agent.id,
        "name": agent.name,
        "description": draft.get("description"),
        "icon": draft.get("icon"),
        "status": agent.status,
        "organization_id": agent.organization_id,
        "deployment_type": draft.get("deployment_type", "serverless"),
        "created_at": iso(agent.created_at),
        "instructions": draft.get("instructions"),
        "model_provider": draft.get("model_provider"),
        "llm_api_base": draft.get("llm_api_base"),
        "model_name": draft.get("model_name"),
        "framework": draft.get("framework"),
        "using_nemo": False,
        "is_coordinate_mode": False,
        "has_pending_changes": agent.has_pending_changes,
        "type": draft.get("type", "regular"),
    }
