"""An invoke body (`AgentExecutionRequest`) as the engine's Invocation: one mapping for the
public invoke routes and the SDK's create-task route alike."""

from __future__ import annotations

from taskloom.api.models import InvokeRequest
from taskloom.engine.intake import BusyPolicy, Invocation
from taskloom.engine.tasks import TaskService
from taskloom.engine.versions import Wanted


def invocation_of(
    body: InvokeRequest,
    *,
    organization_id: str,
    workflow_id: str,
    version: Wanted,
    kind: str | None = None,
    idempotency_key: str | None = None,
    busy_policy: BusyPolicy | None = None,
) -> Invocation:
    return Invocation(
        organization_id=organization_id,
        workflow_id=workflow_id,
        kind=kind,
        version=version,
        input=body.input.model_dump(mode="json", exclude_none=True),
        # the fields the Task echoes; a default (or an unknown field sent as null) says nothing
        request={
            name: value
            for name, value in body.model_dump(
                mode="json", exclude={"input", "id"}, exclude_defaults=True
            ).items()
            if value is not None
        },
        task_id=body.id,
        idempotency_key=idempotency_key,
        busy_policy=busy_policy,
    )


async def check_conversation(
    tasks: TaskService, body: InvokeRequest, *, organization_id: str
) -> None:
    """An invoke's `id` names a conversation to continue: a task of the caller's organization.
    Any other id is not found, whether no task has it or another organization's does (task
    ids are global): both answer the same 404, so no answer tells that the id is in use."""
    if body.id is not None:
        await tasks.get(organization_id=organization_id, task_id=body.id)
