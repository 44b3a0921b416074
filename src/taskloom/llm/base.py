"""The provider interface: taskloom's own small contract for one chat completion."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    # only for annotations: pydantic-ai is imported when a node first needs a model
    from pydantic_ai.messages import ModelMessage, ModelResponse
    from pydantic_ai.models import ModelRequestParameters


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one call (or a sum of calls) consumed, as the provider counted them.

    A provider may answer without counting (llama.cpp's server streams no usage even when
    asked to): such a call adds to `unreported_calls`, not to the counts, so a sum over calls
    where one went uncounted says so instead of passing off a part as the whole."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    unreported_calls: int = 0  # calls whose tokens are in neither count

    @classmethod
    def unreported(cls) -> Usage:
        """One call the provider reported no usage for."""
        return cls(unreported_calls=1)

    @property
    def known(self) -> bool:
        """Whether the counts are the whole usage (every call reported its own)."""
        return self.unreported_calls == 0

    @property
    def total_tokens(self) -> int | None:
        """prompt + completion, or None when some call went uncounted."""
        return self.prompt_tokens + self.completion_tokens if self.known else None

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            unreported_calls=self.unreported_calls + other.unreported_calls,
        )

    def as_dict(self) -> dict[str, int | None]:
        """The counts with their total; with `unreported_calls` when some call went
        uncounted (the total is None then, and the counts only what was reported)."""
        shown: dict[str, int | None] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if not self.known:
            shown["unreported_calls"] = self.unreported_calls
        return shown


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's answer: its text, and with an `output_schema` the structured data it gave."""

    text: str
    data: Mapping[str, Any] | None = None
    usage: Usage = field(default_factory=Usage)
    model: str = ""


class ChatModel(Protocol):
    """One model at one provider. Implementations retry transient failures themselves and
    raise `taskloom.llm.errors` classes, never a provider SDK's own exceptions."""

    @property
    def name(self) -> str: ...

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        system: str,
        output_schema: Mapping[str, Any] | None = None,
        idempotency_key: str,
        timeout_s: float,
    ) -> Completion:
        """Ask for one answer. With `output_schema` (a JSON Schema object), the model is made
        to answer with data matching it, returned as `Completion.data`. `timeout_s` bounds
        one attempt; `idempotency_key` is sent with every attempt."""
        ...


class AgentModel(Protocol):
    """One model at one provider, spoken to turn by turn: the agent loop's handle. Like
    `ChatModel`, it retries transient failures itself and raises `taskloom.llm.errors`."""

    @property
    def name(self) -> str: ...

    async def request(
        self,
        history: Sequence[ModelMessage],
        parameters: ModelRequestParameters,
        *,
        idempotency_key: str,
        timeout_s: float,
        on_text: Callable[[str], Awaitable[None]] | None = None,
    ) -> ModelResponse:
        """The model's next response to `history` (pydantic-ai messages), with the tools in
        `parameters` on offer. With `on_text`, text fragments are streamed to it as they come."""
        ...
