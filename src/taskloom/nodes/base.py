"""The node contract: what every node type implements and what the runner hands it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from taskloom.llm import Models
from taskloom.sandbox import SandboxPool

JSON = Any  # a string or any JSON value: what flows from node to node


@dataclass(frozen=True, slots=True)
class NodeResult:
    output: JSON
    route: str | None = None  # a classifier's group: picks the edge with that group_id
    end: bool = False  # go straight to the END block


@dataclass(frozen=True, slots=True)
class NodeServices:
    """What nodes may use: handed down by the engine, never reached for globally."""

    sandbox: SandboxPool
    llm: Models  # models for LLM-backed nodes (classifier, guardrail, summarizer)


# runs child nodes (a parallel node's branches) with their own checkpoints; returns outputs
RunChildren = Callable[[Sequence[dict[str, Any]], JSON], Awaitable[list[tuple[str, JSON]]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeContext:
    task_id: str
    organization_id: str
    turn: int
    node_id: str
    node_name: str
    idempotency_key: str  # task/turn/node@step/iteration: the same on every re-run
    timeout_s: float
    services: NodeServices
    run_children: RunChildren = field(repr=False)


class Node(Protocol):
    type_name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]

    async def run(self, ctx: NodeContext, config: Any, data: JSON) -> NodeResult: ...
