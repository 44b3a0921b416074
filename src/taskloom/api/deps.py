"""What routes depend on: the app's state and the caller's organization (from `x-api-key`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request

from taskloom import errors
from taskloom.api.views import TaskViews
from taskloom.clock import Clock
from taskloom.config import ApiConfig, Settings
from taskloom.engine.intake import Intake
from taskloom.engine.notifications import Notifications
from taskloom.engine.sdk_workers import SdkWorkers
from taskloom.engine.supervisor import Supervisor
from taskloom.engine.tasks import TaskService
from taskloom.engine.waits import Waits
from taskloom.engine.worker import Worker
from taskloom.knowledge.runtime import Knowledge
from taskloom.sandbox import SandboxPool
from taskloom.secrets import Secrets
from taskloom.store import keys as key_store
from taskloom.store.database import Database
from taskloom.store.records import Principal


@dataclass
class KeyCache:
    """Resolved keys for a few seconds, so that polling does not hit the store for auth."""

    ttl_s: float
    _entries: dict[str, tuple[Principal, float]] = field(default_factory=dict)

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, digest: str, principal: Principal) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[digest] = (principal, time.monotonic() + self.ttl_s)


@dataclass
class AppState:
    settings: Settings
    api: ApiConfig
    db: Database
    intake: Intake
    tasks: TaskService
    views: TaskViews
    keys: KeyCache
    secrets: Secrets
    sdk_workers: SdkWorkers
    worker: Worker | None
    side_tasks: Supervisor
    waits: Waits
    clock: Clock
    notifications: Notifications
    knowledge: Knowledge
    sandbox: SandboxPool | None


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.taskloom
    return state


State = Annotated[AppState, Depends(get_state)]


async def get_principal(
    state: State, x_api_key: Annotated[str | None, Header()] = None
) -> Principal:
    if not x_api_key:
        raise errors.Unauthenticated("missing x-api-key header")
    return await authenticate(state, x_api_key)


async def authenticate(state: AppState, x_api_key: str) -> Principal:
    """The organization an API key belongs to (cached for `key_cache_s`)."""
    digest = key_store.hash_key(x_api_key)
    principal = state.keys.get(digest)
    if principal is None:
        async with state.db.read() as conn:
            principal = await key_store.find_principal(conn, key=x_api_key)
        if principal is None:
            raise errors.Unauthenticated("invalid API key")
        state.keys.put(digest, principal)
    return principal


Caller = Annotated[Principal, Depends(get_principal)]
