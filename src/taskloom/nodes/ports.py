"""What nodes ask of the engine, declared here as small protocols the engine implements.

Nodes never import the engine: they are handed objects that fit these shapes. A test of a
node hands it a small fake of the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from taskloom.llm import Usage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from taskloom.nodes.base import NodeContext
    from taskloom.toolkits.definition import BoundOperation


@dataclass(frozen=True, slots=True)
class SubTaskResult:
    result: str | None  # the sub-task's result, as its task shows it
    usage: Usage  # tokens the sub-task's turn used


class SubTaskRunner(Protocol):
    async def run(
        self,
        ctx: NodeContext,
        *,
        agent_id: str,
        version: int | None,
        text: str,
        extra: dict[str, Any],
    ) -> SubTaskResult:
        """Run an agent as a task of its own, a child of `ctx`'s task, and wait for its turn to
        end; a child that does not complete raises NodeFailed."""
        ...


class SecretReader(Protocol):
    async def reveal(self, *, organization_id: str, name: str) -> str:
        """A named secret's value, for a node about to use it."""
        ...


@dataclass(frozen=True, slots=True)
class DecidedWait:
    key: str
    state: dict[str, Any]  # what the node saved when it paused
    decision: dict[str, Any]


class WaitDecisions(Protocol):
    async def decision(self, *, task_id: str, key: str) -> dict[str, Any] | None:
        """The decision made on the wait this node run (`key`) paused at; None before one
        is made, or when it never paused."""
        ...

    async def resumed(self, *, task_id: str, key_prefix: str) -> DecidedWait | None:
        """The last decided wait among those whose key starts with `key_prefix`: where a node
        run that paused more than once (an agent's tool approvals) goes on from."""
        ...


class ToolkitCatalog(Protocol):
    async def operations(
        self, *, organization_id: str, asset_ids: Sequence[str]
    ) -> list[BoundOperation]:
        """Toolkit operations (`<toolkit>_<operation>`, or a bare `<toolkit>` for all of
        its operations) with their credentials, for calls about to be made."""
        ...

    async def operation(self, *, organization_id: str, asset_id: str) -> BoundOperation:
        """One operation, `<toolkit>_<operation>`."""
        ...
