"""The node contract: what every node type implements and what the runner hands it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel

from taskloom.clock import utcnow
from taskloom.llm import Message, Models, Usage
from taskloom.nodes.ports import SecretReader, SubTaskRunner, ToolkitCatalog, WaitDecisions
from taskloom.sandbox import SandboxPool

if TYPE_CHECKING:
    from taskloom.config import EgressConfig, LLMConfig
    from taskloom.llm.tools.http_client import SharedHttpClient
    from taskloom.llm.tools.knowledge import KnowledgeSearcher

JSON = Any  # a string or any JSON value: what flows from node to node


@dataclass(frozen=True, slots=True)
class NodeResult:
    output: JSON
    route: str | None = None  # a classifier's group: picks the edge with that group_id
    end: bool = False  # go straight to the END block
    usage: Usage | None = None  # tokens the node's model calls used


@dataclass(frozen=True, slots=True)
class NodeServices:
    """What nodes may use: handed down by the engine, never reached for globally."""

    sandbox: SandboxPool
    llm: Models  # models for LLM-backed nodes (classifier, guardrail, summarizer, agent)
    # what agent nodes need beyond a model; a process that runs no agent may leave them out
    llm_config: LLMConfig | None = None
    http: SharedHttpClient | None = None  # agents' HTTP actions go through it
    egress: EgressConfig | None = None  # where agents' tools may connect
    subtasks: SubTaskRunner | None = None  # runs a workflow's agent node as a task of its own
    secrets: SecretReader | None = None  # named provider keys, decrypted on use
    waits: WaitDecisions | None = None  # what a wait node's pause was answered with
    toolkits: ToolkitCatalog | None = None  # toolkit operations for agents and action nodes
    # orchestration nodes run workflows inside workflows: at most this many levels deep
    max_nesting_depth: int = 4
    knowledge: KnowledgeSearcher | None = None  # agents' knowledge bases are searched with it


# runs child nodes (a parallel node's branches) with their own checkpoints; returns outputs
RunChildren = Callable[[Sequence[dict[str, Any]], JSON], Awaitable[list[tuple[str, JSON]]]]
# publishes an event on the task's stream (`chunk`, `tool_call_request`, ...)
Emit = Callable[[str, Any], Awaitable[None]]
# the conversation so far: earlier turns' inputs and results
History = Callable[[], Awaitable[list[Message]]]


async def _drop(kind: str, data: Any) -> None:
    """Where events go when no stream listens (a node run outside a task)."""


async def _no_history() -> list[Message]:
    return []


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
    # the invoke's options: per-run model overrides, extra context, MCP servers, ...
    request: Mapping[str, Any] = field(default_factory=dict)
    emit: Emit = field(default=_drop, repr=False)
    history: History = field(default=_no_history, repr=False)
    # how often this turn's walk reached this node before (a loop through a pointer or a
    # self_schedule's jump comes back to it)
    visits: int = 0
    # the engine's clock: a node that reasons about time asks it, never the system
    now: Callable[[], datetime] = field(default=utcnow, repr=False)


class Node(Protocol):
    type_name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]

    async def run(self, ctx: NodeContext, config: Any, data: JSON) -> NodeResult: ...
