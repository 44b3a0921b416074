"""taskloom's Python client: typed, sync (`Client`) and async (`AsyncClient`), over httpx.

Both clients send the same prepared calls (`_calls`) and read events through the same
resumable feed (`_sse`); only the sending differs. See docs/client.md.
"""

from taskloom.client._async import AsyncClient
from taskloom.client._calls import Call, Kind, Version
from taskloom.client._errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    StreamInterrupted,
    TransportError,
    Unauthorized,
    ValidationFailed,
)
from taskloom.client._models import (
    Agent,
    CountedTokens,
    DeployedVersion,
    Event,
    Message,
    NodeRun,
    Page,
    Task,
    TaskStatus,
    TaskSummary,
    Tokens,
    Workflow,
)
from taskloom.client._sync import Client

__all__ = [
    "Agent",
    "ApiError",
    "AsyncClient",
    "BadRequest",
    "Call",
    "Client",
    "ClientError",
    "Conflict",
    "CountedTokens",
    "DeployedVersion",
    "Event",
    "Forbidden",
    "Kind",
    "Message",
    "NodeRun",
    "NotFound",
    "Page",
    "RateLimited",
    "ServerError",
    "StreamInterrupted",
    "Task",
    "TaskStatus",
    "TaskSummary",
    "Tokens",
    "TransportError",
    "Unauthorized",
    "ValidationFailed",
    "Version",
    "Workflow",
]
