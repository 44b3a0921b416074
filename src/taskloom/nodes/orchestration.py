"""Orchestration node: runs another deployed workflow (`asset_id`) as a sub-task, pinned to a
version or on the latest deployed one, and passes its result on.

The child is an ordinary task of that workflow (see engine/subtasks.py), a child of this
node's task. How deep workflows may sit inside each other is checked when a workflow is
deployed (with cycles); the depth is counted again here, in the child's request, so that a
nesting made by later deploys of pinned-to-latest workflows still ends.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from taskloom import errors
from taskloom.llm.prompts import as_text
from taskloom.nodes.agent import parsed_result
from taskloom.nodes.base import JSON, NodeContext, NodeResult

NESTING_KEY = "orchestration_depth"  # in a child's request: how many workflows it sits in


class OrchestrationNodeConfig(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    asset_id: str = Field(
        min_length=1,
        max_length=64,
        validation_alias=AliasChoices("asset_id", "workflow_id", "target_agent_id"),
    )
    version: int | Literal["latest"] | None = Field(default=None)
    ignore_response: bool = False  # pass the node's input on instead of the child's result

    @property
    def pinned(self) -> int | None:
        return self.version if isinstance(self.version, int) else None


def nesting_depth(request: Any) -> int:
    """How many workflows the task whose request this is sits inside (0: a top task)."""
    depth = request.get(NESTING_KEY, 0) if hasattr(request, "get") else 0
    return depth if isinstance(depth, int) and depth >= 0 else 0


class OrchestrationNode:
    type_name: ClassVar[str] = "orchestration"
    config_model: ClassVar[type[BaseModel]] = OrchestrationNodeConfig

    async def run(
        self, ctx: NodeContext, config: OrchestrationNodeConfig, data: JSON
    ) -> NodeResult:
        subtasks = ctx.services.subtasks
        if subtasks is None:
            raise errors.NodeFailed("this process is not set up to run sub-tasks")
        depth = nesting_depth(ctx.request) + 1
        limit = ctx.services.max_nesting_depth
        if depth > limit:
            raise errors.NodeFailed(
                f"workflow {config.asset_id} would run {depth} levels deep; at most {limit} "
                "(max_nesting_depth)"
            )
        child = await subtasks.run(
            ctx,
            agent_id=config.asset_id,
            version=config.pinned,
            text=as_text(data),
            extra={NESTING_KEY: depth},
        )
        if config.ignore_response:
            return NodeResult(output=data, usage=child.usage)
        return NodeResult(output=parsed_result(child.result), usage=child.usage)
