"""The workflow definition as users write it: orchestration nodes, edges, strategies, output."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

ConditionType = Literal[
    "regex", "contains", "else", "equal", "not_equal", "gt", "lt", "gte", "lte", "not_empty"
]
OutputFormat = Literal["text", "markdown", "json", "voice"]


def _printable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Name = Annotated[str, AfterValidator(_printable)]


class _Model(BaseModel):
    # clients send fields we do not use yet; keep them so that nothing they stored is lost
    model_config = ConfigDict(extra="allow")


class Condition(_Model):
    type: ConditionType | None = None
    term: str | None = None
    group_id: str | None = None
    path: str | None = None
    value: Any = None


class RetryStrategy(_Model):
    enabled: bool = False
    max_retries: int = Field(default=3, ge=0, le=20)


class IterativeStrategy(_Model):
    enabled: bool = False
    max_iterations: int = Field(default=3, ge=1, le=100)
    end_condition: Condition | None = None


class StopStrategy(_Model):
    enabled: bool = False
    stop_on_failure: bool = True
    stop_on_condition: Condition | None = None


class OrchestrationNode(_Model):
    type: str
    id: Name = Field(min_length=1, max_length=64)
    next_node_ids: list[str] = Field(default_factory=list)
    name: Name = ""
    description: str | None = None
    condition: Condition | None = None
    retry_strategy: RetryStrategy | None = None
    iterative_strategy: IterativeStrategy | None = None
    stop_strategy: StopStrategy | None = None
    definition: dict[str, Any] = Field(default_factory=dict)
    # `text`: a first node given only the input's text, even when the input holds more
    input_type: str | None = None
    # taskloom extension: wall-clock limit of one run of this node
    timeout_seconds: float | None = Field(default=None, gt=0, le=86_400)

    @property
    def label(self) -> str:
        return self.name or self.id


class WorkflowSpec(_Model):
    """The editable part of a workflow: what a draft holds and a version freezes."""

    name: Name = Field(min_length=1, max_length=255)
    description: str | None = None
    orchestration_nodes: list[OrchestrationNode] = Field(default_factory=list)
    output_format: OutputFormat = "text"
    output_schema: dict[str, Any] | None = None
    instructions: Any = None
    expected_output: str | None = None
    task_level_strategies: dict[str, Any] | None = None


class WorkflowPatch(_Model):
    """PATCH body: every field optional, at least one given."""

    name: Name | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = None
    orchestration_nodes: list[OrchestrationNode] | None = None
    output_format: OutputFormat | None = None
    output_schema: dict[str, Any] | None = None
    instructions: Any = None
    expected_output: str | None = None
    task_level_strategies: dict[str, Any] | None = None
    status: Literal["ACTIVE", "INACTIVE", "DRAFT"] | None = None
