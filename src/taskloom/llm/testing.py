"""A scripted stand-in for the LLM service, for unit tests of a node's own decisions."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from taskloom.llm.base import Completion, Message
from taskloom.llm.choice import ModelChoice


@dataclass(frozen=True, slots=True)
class Call:
    """One `complete` call as the scripted model received it."""

    choice: ModelChoice
    messages: tuple[Message, ...]
    system: str
    output_schema: Mapping[str, Any] | None
    idempotency_key: str
    timeout_s: float


@dataclass
class ScriptedModels:
    """Answers `complete` calls with queued completions (or raises queued errors), in order,
    and records every call. Use it as `NodeServices.llm`."""

    answers: deque[Completion | Exception] = field(default_factory=deque)
    calls: list[Call] = field(default_factory=list)
    request_timeout_s: float = 30.0

    def script(self, *answers: Completion | Exception) -> ScriptedModels:
        self.answers.extend(answers)
        return self

    async def model(self, choice: ModelChoice) -> _ScriptedModel:
        return _ScriptedModel(self, choice)


@dataclass
class _ScriptedModel:
    models: ScriptedModels
    choice: ModelChoice

    @property
    def name(self) -> str:
        return f"scripted:{self.choice.model_name or 'default'}"

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        system: str,
        output_schema: Mapping[str, Any] | None = None,
        idempotency_key: str,
        timeout_s: float,
    ) -> Completion:
        self.models.calls.append(
            Call(self.choice, tuple(messages), system, output_schema, idempotency_key, timeout_s)
        )
        if not self.models.answers:
            raise AssertionError("ScriptedModels: no scripted answer left")
        answer = self.models.answers.popleft()
        if isinstance(answer, Exception):
            raise answer
        return answer
