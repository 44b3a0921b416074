"""Reject a workflow definition that cannot run, with a message that names the problem.

What each node type's `definition` must look like comes from the caller (`node_configs`,
the nodes' own models): workflows sit below nodes and never import them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ValidationError

from taskloom.errors import InvalidRequest
from taskloom.workflows.conditions import BadPattern, compile_regex
from taskloom.workflows.definition import Condition, OrchestrationNode, WorkflowSpec
from taskloom.workflows.graph import walk_ids

NodeConfigs = Mapping[str, type[BaseModel]]  # node type -> the model of its `definition`


def validate_spec(spec: WorkflowSpec, *, max_nodes: int, node_configs: NodeConfigs) -> None:
    nodes = spec.orchestration_nodes
    try:
        everything = list(walk_ids(nodes))
    except ValidationError as exc:
        raise InvalidRequest(f"a parallel branch is not a valid node: {_problems(exc)}") from exc
    if len(everything) > max_nodes:
        raise InvalidRequest(
            f"a workflow may have at most {max_nodes} nodes, got {len(everything)}"
        )
    seen: set[str] = set()
    for node in everything:
        if node.id in seen:
            raise InvalidRequest(f"node id {node.id!r} is used more than once")
        seen.add(node.id)
        _check_node(node, node_configs)
    top = {node.id: node for node in nodes}
    for node in nodes:
        for target in node.next_node_ids:
            if target not in top:
                raise InvalidRequest(f"node {node.id!r} points at unknown node {target!r}")
    for node in everything:  # a pointer, even inside a parallel branch, jumps to a top node
        if node.type == "node_pointer":
            source = str(node.definition.get("source_node_id"))
            if source not in top:
                raise InvalidRequest(f"node_pointer {node.id!r} points at unknown node {source!r}")
    for node in everything:  # a self_schedule jumps back into the top-level walk
        if node.type != "self_schedule":
            continue
        if node.id not in top:
            raise InvalidRequest(f"self_schedule {node.id!r} cannot sit in a parallel branch")
        target = str(node.definition.get("target_node_id"))
        if target not in top:
            raise InvalidRequest(f"self_schedule {node.id!r} targets unknown node {target!r}")
    _check_pointer_chains(top)
    _check_acyclic(top)


def _check_node(node: OrchestrationNode, node_configs: NodeConfigs) -> None:
    config_model = node_configs.get(node.type)
    if config_model is None:
        known = ", ".join(sorted(node_configs))
        raise InvalidRequest(f"node {node.id!r} has unknown type {node.type!r} (known: {known})")
    try:
        config_model.model_validate(node.definition)
    except ValidationError as exc:
        problem = _problems(exc)
        raise InvalidRequest(f"node {node.id!r} ({node.type}) definition: {problem}") from exc
    for condition in _conditions(node):
        pattern = condition.term if condition.value is None else str(condition.value)
        if condition.type == "regex" and pattern is not None:
            try:
                compile_regex(pattern)
            except BadPattern as exc:
                raise InvalidRequest(f"node {node.id!r}: bad regex {pattern!r}: {exc}") from exc
    if node.type == "parallel":
        children = [OrchestrationNode.model_validate(c) for c in node.definition["nodes"]]
        labels = [child.label for child in children]
        if len(set(labels)) != len(labels):
            raise InvalidRequest(f"parallel node {node.id!r} has branches with the same name")
        if any(child.next_node_ids for child in children):
            raise InvalidRequest(f"parallel node {node.id!r}: branches cannot have next_node_ids")


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'definition'}: {e['msg']}" for e in exc.errors()
    )


def _conditions(node: OrchestrationNode) -> Iterable[Condition]:
    if node.condition is not None:
        yield node.condition
    if node.iterative_strategy and node.iterative_strategy.end_condition:
        yield node.iterative_strategy.end_condition
    if node.stop_strategy and node.stop_strategy.stop_on_condition:
        yield node.stop_strategy.stop_on_condition


def _check_pointer_chains(top: dict[str, OrchestrationNode]) -> None:
    for node in top.values():
        seen = {node.id}
        current = node
        while current.type == "node_pointer":
            current = top[str(current.definition["source_node_id"])]
            if current.id in seen:
                raise InvalidRequest(f"node_pointer {node.id!r} points into a pointer cycle")
            seen.add(current.id)


def _check_acyclic(top: dict[str, OrchestrationNode]) -> None:
    """Edges must form a DAG; loops are only made with node_pointer (bounded at run time)."""
    done: set[str] = set()
    for start in top:
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node_id, index = stack.pop()
            if index == 0:
                path.append(node_id)
                on_path.add(node_id)
            targets = top[node_id].next_node_ids
            if index < len(targets):
                stack.append((node_id, index + 1))
                target = targets[index]
                if target in on_path:
                    cycle = " -> ".join([*path[path.index(target) :], target])
                    raise InvalidRequest(f"the graph has a cycle: {cycle}")
                if target not in done:
                    stack.append((target, 0))
            else:
                path.pop()
                on_path.discard(node_id)
                done.add(node_id)
