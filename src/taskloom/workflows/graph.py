"""A deployed workflow as a walkable graph: entry node, pointer resolution and edge routing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from taskloom.workflows.conditions import matches
from taskloom.workflows.definition import OrchestrationNode, WorkflowSpec

AGENT_NODE_ID = "agent"


def agent_as_workflow(agent: dict[str, Any]) -> dict[str, Any]:
    """An agent runs as a workflow of one `agent` node that holds the whole definition, so
    that agents and workflows share one runner, one task lifecycle and one event stream."""
    spec = {k: v for k, v in agent.items() if k != "kind"}
    return {
        "name": spec.get("name") or "agent",
        "output_format": spec.get("output_format") or "text",
        "output_schema": spec.get("output_schema"),
        "orchestration_nodes": [
            {
                "id": AGENT_NODE_ID,
                "type": "agent",
                "name": spec.get("name") or "agent",
                "definition": {"agent": spec},
            }
        ],
    }


def entry_node_id(nodes: list[OrchestrationNode]) -> str | None:
    """The first node, in the order given, that no edge points at."""
    targets = {target for node in nodes for target in node.next_node_ids}
    return next((node.id for node in nodes if node.id not in targets), None)


@dataclass(frozen=True, slots=True)
class Graph:
    spec: WorkflowSpec
    nodes: dict[str, OrchestrationNode]
    entry: str | None

    @classmethod
    def from_definition(cls, definition: dict[str, Any]) -> Graph:
        if definition.get("kind") == "agent":
            definition = agent_as_workflow(definition)
        spec = WorkflowSpec.model_validate(definition)
        nodes = {node.id: node for node in spec.orchestration_nodes}
        return cls(spec=spec, nodes=nodes, entry=entry_node_id(spec.orchestration_nodes))

    def resolve(self, node: OrchestrationNode) -> OrchestrationNode:
        """What actually runs at `node`: a `node_pointer` adopts its source's type, definition,
        strategies and next edges, and keeps its own id, name and condition."""
        seen = {node.id}
        effective = node
        while effective.type == "node_pointer":
            source = self.nodes[str(effective.definition["source_node_id"])]
            if source.id in seen:  # validation forbids this; stay safe on stored data
                raise ValueError(f"node_pointer cycle at {source.id}")
            seen.add(source.id)
            effective = source
        if effective is node:
            return node
        return effective.model_copy(
            update={"id": node.id, "name": node.name, "condition": node.condition}
        )

    def route_edge(self, node: OrchestrationNode, route: str) -> str | None:
        """The edge made for this route: `condition.group_id == route`, else an `else` edge."""
        fallback: str | None = None
        for target_id in node.next_node_ids:
            condition = self.nodes[target_id].condition
            if condition is None:
                continue
            if condition.type == "else":
                fallback = fallback or target_id
            elif condition.group_id == route:
                return target_id
        return fallback

    def conditioned_next(
        self, node: OrchestrationNode, output: Any, route: str | None
    ) -> str | None:
        """Like `next_node`, but only an edge with a condition (an `else` edge included) may
        be taken: for outcomes that must be routed on purpose, never fallen through."""
        fallback: str | None = None
        for target_id in node.next_node_ids:
            condition = self.nodes[target_id].condition
            if condition is None:
                continue
            if condition.type == "else":
                fallback = fallback or target_id
            elif matches(condition, output, route=route):
                return target_id
        return fallback

    def next_node(self, node: OrchestrationNode, output: Any, route: str | None) -> str | None:
        """Where the run goes after `node` produced `output`; None means the END block.

        Edges are tried in order; the first whose condition matches wins, and an `else` edge
        is taken only when no other matched.
        """
        fallback: str | None = None
        for target_id in node.next_node_ids:
            condition = self.nodes[target_id].condition
            if condition is not None and condition.type == "else":
                fallback = fallback or target_id
                continue
            if condition is None or matches(condition, output, route=route):
                return target_id
        return fallback


def walk_ids(nodes: Iterable[OrchestrationNode]) -> Iterable[OrchestrationNode]:
    """Every node, parallel children included, depth first."""
    for node in nodes:
        yield node
        if node.type == "parallel":
            children = node.definition.get("nodes")
            if isinstance(children, list):  # anything else fails the parallel node's config
                yield from walk_ids(OrchestrationNode.model_validate(c) for c in children)


def starts_sub_tasks(definition: dict[str, Any]) -> bool:
    """Whether running this definition may start sub-tasks: a workflow with an agent node or
    an orchestration node (an agent's own node runs inline)."""
    if definition.get("kind") == "agent":
        return False
    nodes = [OrchestrationNode.model_validate(n) for n in definition.get("orchestration_nodes", [])]
    return any(node.type in ("agent", "orchestration") for node in walk_ids(nodes))
