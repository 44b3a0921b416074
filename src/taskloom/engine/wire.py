"""The Task object as it goes on the wire (docs/api.md): HTTP replies and event payloads alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from taskloom.agents.credentials import redacted
from taskloom.store.records import NodeRunRecord, TaskRecord, TaskStatus


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def tokens_json(prompt: int, completion: int, unreported_calls: int) -> dict[str, Any]:
    """A `tokens` object. When some model call went uncounted (its provider reported no
    usage), the totals are unknown: null, not a sum passed off as the whole. What the other
    calls reported stays readable under `counted`."""
    counted = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if unreported_calls == 0:
        return {**counted, "unreported_calls": 0}
    unknown = dict.fromkeys(counted)
    return {**unknown, "unreported_calls": unreported_calls, "counted": counted}


def task_json(
    task: TaskRecord,
    trace: list[NodeRunRecord] | None = None,
    children: list[tuple[str, TaskStatus]] | None = None,
) -> dict[str, Any]:
    """The Task (`AgentExecution`) object, docs/api.md, plus taskloom's extra fields."""
    request = task.request
    children = children or []
    body: dict[str, Any] = {
        "id": task.id,
        "agent_id": task.agent_id,
        "organization_id": task.organization_id,
        "input": task.input,
        "status": task.status.value,
        "internal_status": request.get("internal_status"),
        "last_executed_node_id": task.last_executed_node_id,
        "agent_version": str(task.agent_version),
        "turn": task.turn,
        "created_at": iso(task.created_at),
        "started_at": iso(task.started_at),
        "paused_at": iso(task.paused_at) if task.status == TaskStatus.PAUSED else None,
        "finished_at": iso(task.finished_at),
        "result": task.result,
        "parent_execution": request.get("parent_execution_id"),
        "sub_executions": [child for child, _ in children],
        "finished_sub_executions": [child for child, status in children if status.is_terminal],
        "is_manually_stopped": task.is_manually_stopped,
        "payload_extension": request.get("payload_extension"),
        "hitl_request": task.hitl_request,
        "pending_eca_request": None,
        "source": request.get("source") or "api",
        "worker_id": request.get("worker_id"),
        "additional_context": request.get("additional_context"),
        "instructions_override": request.get("instructions_override"),
        "expected_output": request.get("expected_output"),
        "test_run_node_id": request.get("test_run_node_id"),
        "is_orchestration": request.get("is_orchestration", True),
        "output_format": request.get("output_format"),
        "output_schema": request.get("output_schema"),
        "voice_id": None,
        "events_streaming": request.get("events_streaming", False),
        "used_mutating_tools": False,
        "is_continuous": False,
        "mcp_servers": redacted(request.get("mcp_servers", []), holder="mcp_servers"),
        "triggering_agent_id": request.get("triggering_agent_id"),
        "title": request.get("title"),
        "think_mode": request.get("think_mode", "default"),
        "disable_attachment_injection": request.get("disable_attachment_injection", False),
        "deep_planning": None,
        "execution_attempts": max(task.attempt - task.attempt_base, 1),
        "user_tokens": request.get("user_tokens"),
        "user_oidc_token": None,  # a credential: accepted, never echoed
        "return_metrics": request.get("return_metrics", False),
        "tokens": {
            **tokens_json(task.prompt_tokens, task.completion_tokens, task.unreported_calls),
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
        },
        "llm_model_provider": request.get("llm_model_provider"),
        "llm_model_name": request.get("llm_model_name"),
        "llm_reasoning_effort": request.get("llm_reasoning_effort"),
        "status_reason": task.status_reason,
        "status_message": task.status_message,
    }
    if trace is not None:
        body["node_runs"] = [node_run_json(run) for run in trace]
    return body


def node_run_json(run: NodeRunRecord) -> dict[str, Any]:
    return {
        "node_id": run.node_id,
        "node_name": run.node_name,
        "node_type": run.node_type,
        "turn": run.turn,
        "step": run.step,
        "iteration": run.iteration,
        "status": run.status.value,
        "attempt": run.task_attempt,
        "retry": run.retries,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "error": run.error,
        "tokens": tokens_json(run.prompt_tokens, run.completion_tokens, run.unreported_calls),
    }


def task_list_item_json(task: TaskRecord) -> dict[str, Any]:
    """`TasksListItem` (docs/api.md)."""
    user = task.input.get("user") or {}
    return {
        "id": task.id,
        "agent_id": task.agent_id,
        "organization_id": task.organization_id,
        "status": task.status.value,
        "user_id": user.get("id") if isinstance(user, dict) else None,
        "parent_task_id": task.request.get("parent_execution_id"),
        "triggering_agent_id": task.request.get("triggering_agent_id"),
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
        "source_node_type": task.request.get("source") or "api",
        "result": task.result,
        "title": task.request.get("title"),
        "status_reason": task.status_reason,
    }
