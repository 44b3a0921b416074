"""The one hook on model calls: what a call was, how it ended, and who is told.

`ProviderModel` wraps every call (all of its attempts) in `observer.model_call(call)`: the
observer sees the call start and, when the block ends, reads what the call filled in
(response model, tokens, attempts) and how it ended (the exception that left the block, if
any). The metrics (`CallMetrics`) and the traces (one span per call) are both
observers; with none configured a call costs a `None` check.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True, kw_only=True)
class ModelCall:
    """One call to a model, including its retries. The first three fields are known before
    the call; the rest are filled in as it ends."""

    operation: str  # GenAI operation name: taskloom makes `chat` calls only
    provider: str  # the provider the node named (openai, anthropic, an OpenAI-compatible name)
    model: str  # the model asked for
    response_model: str | None = None  # the model that answered, as the provider named it
    input_tokens: int | None = None  # None: the provider reported no usage
    output_tokens: int | None = None
    attempts: int = 0


class CallObserver(Protocol):
    def model_call(self, call: ModelCall) -> contextlib.AbstractContextManager[None]:
        """Entered as the call starts and left as it ends; the block fills in `call`. An
        exception leaving the block is the call's failure; the observer lets it propagate."""
        ...


class Observers:
    """Several observers as one, entered in order and left in reverse."""

    def __init__(self, observers: Sequence[CallObserver]) -> None:
        self._observers = tuple(observers)

    @contextlib.contextmanager
    def model_call(self, call: ModelCall) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for observer in self._observers:
                stack.enter_context(observer.model_call(call))
            yield


def outcome_of(exc: BaseException | None) -> str:
    """A failed call's outcome for a metric label: the error's `reason` (provider_timeout,
    provider_rejected, invalid_llm_output, ...), `cancelled`, or `error` for anything else;
    `ok` for a call that answered. A small, fixed set, whatever the providers say."""
    if exc is None:
        return "ok"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) else "error"


def combine(*observers: CallObserver | None) -> CallObserver | None:
    """The observers given (None for one not configured) as one, or None if there are none."""
    present = [observer for observer in observers if observer is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else Observers(present)
