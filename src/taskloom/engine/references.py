"""What a workflow names besides its own nodes, checked when it is saved and when it is
deployed, so that a dangling name is a 4xx on that node now rather than a failed run later:
agent nodes name agents, orchestration nodes name workflows, action nodes name toolkit
operations.

At deploy, each name must also run: the agent or workflow deployed (the version pinned, if
one is), and the workflows nested through orchestration nodes are followed to refuse a cycle
and a nesting deeper than the limit. A nested workflow on `latest` is followed on its latest
deployed version: the deploy that would close a cycle through it is the one refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from taskloom import errors
from taskloom.nodes.action import ActionNodeConfig
from taskloom.nodes.agent import AgentNodeConfig
from taskloom.nodes.orchestration import OrchestrationNodeConfig
from taskloom.store import toolkits as toolkit_store
from taskloom.store import workflows as workflow_store
from taskloom.store.database import Connection
from taskloom.store.records import WorkflowRecord
from taskloom.toolkits.definition import ToolkitSpec, split_asset_id
from taskloom.workflows.definition import OrchestrationNode
from taskloom.workflows.graph import walk_ids

Named = tuple[str, str, str, int | None]  # (node id, node type, asset id, pinned version)


def _names(definition: dict[str, Any]) -> Iterator[Named]:
    if definition.get("kind") == "agent":
        return
    nodes = [OrchestrationNode.model_validate(n) for n in definition.get("orchestration_nodes", [])]
    for node in walk_ids(nodes):
        try:
            if node.type == "agent":
                agent = AgentNodeConfig.model_validate(node.definition)
                if agent.asset_id is not None:
                    pinned = agent.version if isinstance(agent.version, int) else None
                    yield node.id, "agent", agent.asset_id, pinned
            elif node.type == "orchestration":
                nested = OrchestrationNodeConfig.model_validate(node.definition)
                yield node.id, "orchestration", nested.asset_id, nested.pinned
            elif node.type == "action":
                action = ActionNodeConfig.model_validate(node.definition)
                yield node.id, "action", action.asset_id, None
        except ValidationError:  # validation of the spec says what is wrong with it
            continue


async def check_references(
    conn: Connection,
    *,
    organization_id: str,
    workflow_id: str,
    definition: dict[str, Any],
    deploying: bool,
    max_nesting_depth: int,
) -> None:
    """InvalidRequest naming the node whose reference cannot be run."""
    for node_id, kind, asset, pinned in _names(definition):
        where = f"node {node_id!r} ({kind})"
        if kind == "action":
            await _check_operation(conn, organization_id, asset, where)
            continue
        target_kind = workflow_store.AGENT if kind == "agent" else workflow_store.WORKFLOW
        try:
            target = await workflow_store.get_workflow(
                conn, organization_id=organization_id, workflow_id=asset, kind=target_kind
            )
        except errors.NotFound as exc:
            raise errors.InvalidRequest(f"{where}: {target_kind} {asset} not found") from exc
        if kind == "orchestration" and asset == workflow_id:
            raise errors.InvalidRequest(f"{where}: a workflow cannot run itself")
        if deploying:
            _check_deployed(target, pinned, where)
    if deploying:
        await _check_nesting(conn, organization_id, workflow_id, definition, max_nesting_depth)


def _check_deployed(target: WorkflowRecord, pinned: int | None, where: str) -> None:
    latest = target.latest_version
    if latest is None:
        raise errors.InvalidRequest(
            f"{where}: {target.kind} {target.id} has never been deployed: deploy it first"
        )
    if pinned is not None and pinned > latest:
        raise errors.InvalidRequest(f"{where}: {target.kind} {target.id} has no version {pinned}")


async def check_toolkit_tools(
    conn: Connection, *, organization_id: str, asset_ids: list[str]
) -> None:
    """An agent's `toolkit_tools`: each names a toolkit of the organization (and, with an
    operation, one of its operations)."""
    for asset in asset_ids:
        where = f"toolkit_tools: {asset!r}"
        if split_asset_id(asset)[1] is None:
            try:
                await toolkit_store.get_toolkit(
                    conn, organization_id=organization_id, toolkit_id=asset
                )
            except errors.NotFound as exc:
                raise errors.InvalidRequest(f"{where}: toolkit {asset} not found") from exc
        else:
            await _check_operation(conn, organization_id, asset, where)


async def _check_operation(conn: Connection, organization_id: str, asset: str, where: str) -> None:
    toolkit_id, operation_id = split_asset_id(asset)
    try:
        toolkit = await toolkit_store.get_toolkit(
            conn, organization_id=organization_id, toolkit_id=toolkit_id
        )
    except errors.NotFound as exc:
        raise errors.InvalidRequest(f"{where}: toolkit {toolkit_id} not found") from exc
    if (
        operation_id is None
        or ToolkitSpec.model_validate(toolkit.spec).operation(operation_id) is None
    ):
        raise errors.InvalidRequest(
            f"{where}: toolkit {toolkit_id} has no operation {operation_id!r}"
        )


async def _check_nesting(
    conn: Connection,
    organization_id: str,
    workflow_id: str,
    definition: dict[str, Any],
    limit: int,
) -> None:
    """Follow orchestration nodes down from the workflow being deployed."""

    async def depth_below(path: list[str], current: dict[str, Any]) -> int:
        deepest = 0
        for node_id, kind, asset, pinned in _names(current):
            if kind != "orchestration":
                continue
            if asset in path:
                cycle = " -> ".join([*path[path.index(asset) :], asset])
                raise errors.InvalidRequest(
                    f"node {node_id!r} (orchestration): workflows would run in a cycle: {cycle}"
                )
            nested = await _deployed_definition(conn, organization_id, asset, pinned)
            if nested is None:
                continue  # another organization's, or deleted: checked above for this one
            below = 1 + await depth_below([*path, asset], nested)
            if len(path) + below - 1 > limit:
                raise errors.InvalidRequest(
                    f"node {node_id!r} (orchestration): workflows would nest more than "
                    f"{limit} levels deep (max_nesting_depth)"
                )
            deepest = max(deepest, below)
        return deepest

    await depth_below([workflow_id], definition)


async def _deployed_definition(
    conn: Connection, organization_id: str, workflow_id: str, pinned: int | None
) -> dict[str, Any] | None:
    try:
        target = await workflow_store.get_workflow(
            conn, organization_id=organization_id, workflow_id=workflow_id
        )
    except errors.NotFound:
        return None
    version = pinned or target.latest_version
    if version is None:
        return None
    return await workflow_store.get_version(conn, workflow_id=workflow_id, version=version)
