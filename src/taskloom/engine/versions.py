"""Which definition an invoke runs: a deployed version, or an agent's draft of the moment."""

from __future__ import annotations

from typing import Any, Literal

from taskloom import errors
from taskloom.store.records import WorkflowRecord

# `?version=draft` runs the undeployed draft: it is snapshotted into the task's request
# under DRAFT_KEY, and the task records version 0
DRAFT_VERSION = 0
DRAFT_KEY = "_draft_definition"

# None and `latest` both name the latest deployed version
Wanted = int | Literal["draft", "latest"] | None


def pick_version(target: WorkflowRecord, wanted: Wanted) -> int:
    """The version number an invoke runs (DRAFT_VERSION for the draft)."""
    noun = target.kind
    if wanted == "draft":
        return DRAFT_VERSION
    latest = target.latest_version
    if latest is None:
        raise errors.Conflict(
            f"{noun} {target.id} has never been deployed: deploy it with PUT first "
            "(or run its draft with ?version=draft)"
        )
    if wanted is None or wanted == "latest":
        return latest
    if not 1 <= wanted <= latest:
        raise errors.NotFound(f"{noun} {target.id} has no version {wanted}")
    return wanted


def draft_snapshot(target: WorkflowRecord) -> dict[str, Any]:
    return {**target.draft, "kind": target.kind}
