"""An invoke body (`AgentExecutionRequest`) as the engine's Invocation: one mapping for the
public invoke routes and the SDK's create-task route alike."""

from __future__ import annotations

from taskloom.api.models import InvokeRequest
from taskloom.engine.tasks import BusyPolicy, Invocation
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
