"""Every exception taskloom raises on purpose.

    TaskloomError
    ├── Unauthenticated          missing or unknown API key
    ├── NotFound                 no such resource in the caller's organization
    ├── InvalidRequest           well-formed JSON that breaks a rule (graph, version, limits)
    ├── Conflict                 the request contradicts the stored state
    │   └── AlreadyExists        a write collided with a row another request just stored
    ├── LeaseLost                a worker wrote after losing its task to a newer attempt
    ├── NodeFailed               a node failed in a way a retry would repeat (task -> error)
    │   ├── CodeError            user code raised, returned junk or broke a sandbox limit
    │   ├── NodeTimeout          a node ran past its wall-clock limit
    │   ├── GuardrailFailed      a guardrail judged a fail and the workflow has no fail route
    │   └── SandboxRefused       no sandbox isolates user code here, so code nodes are refused
    ├── StopRequested            a stop strategy asked the run to end as `stopped`
    └── SandboxUnavailable       no interpreter could be started for user code

Nothing here knows about HTTP: `api/errors.py` maps these to responses.
"""

from __future__ import annotations


class TaskloomError(Exception):
    """Base class of every error taskloom raises on purpose."""


class Unauthenticated(TaskloomError):
    """The request carries no API key, or one that is not known."""


class NotFound(TaskloomError):
    """The resource does not exist in the caller's organization."""


class InvalidRequest(TaskloomError):
    """The request is well-formed but breaks a rule taskloom enforces."""


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
    # through every retry): the task then ends `failed`, not `error` (DESIGN §2)
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


class SandboxUnavailable(TaskloomError):
    """No interpreter for user code could be started."""


class StoreUnavailable(TaskloomError):
    """The database failed or ran out of connections: worth retrying, not the task's fault."""


def describe(exc: BaseException) -> str:
    """A one-line account of `exc` that any store can hold: the leaf of an exception group,
    with text that is not valid Unicode (lone surrogates from user code) replaced."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) if isinstance(exc, TaskloomError) else f"{type(exc).__name__}: {exc}"
    return text.encode("utf-8", "replace").decode("utf-8")
