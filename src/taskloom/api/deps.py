"""What routes depend on: the app's state and the caller's organization (from `x-api-key`, or
`Authorization: Bearer <key>`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
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
from taskloom.engine.toolkits import ToolkitCatalog
from taskloom.engine.waits import Waits
from taskloom.engine.worker import Worker
from taskloom.knowledge.runtime import Knowledge
from taskloom.llm.call_metrics import CallMetrics
from taskloom.llm.tools.http_client import SharedHttpClient
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
    _uses: dict[str, float] = field(default_factory=dict)  # key id -> monotonic time written

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, digest: str, principal: Principal) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[digest] = (principal, time.monotonic() + self.ttl_s)

    def use_due(self, key_id: str, every_s: float) -> bool:
        """Whether this process should write the key's last use now: at most once per
        `every_s` per key, so that authentication costs no write per request."""
        now = time.monotonic()
        last = self._uses.get(key_id)
        if last is not None and now - last < every_s:
            return False
        if len(self._uses) > 10_000:
            self._uses.clear()
        self._uses[key_id] = now
        return True


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
    http: SharedHttpClient
    toolkits: ToolkitCatalog
    llm_calls: CallMetrics | None = None  # this process's model calls (with workers)


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.taskloom
    return state


State = Annotated[AppState, Depends(get_state)]


async def get_principal(
    state: State,
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    key = x_api_key or bearer_key(authorization)
    if not key:
        raise errors.Unauthenticated("missing x-api-key header")
    return await authenticate(state, key)


def bearer_key(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header; None for any other scheme. The key
    is looked up by its hash, as an x-api-key is: no comparison of secrets in Python."""
    if authorization is None:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


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
    every_s = state.api.key_use_record_s
    if state.keys.use_due(principal.key_id, every_s):
        async with state.db.write() as conn:
            await key_store.record_key_use(
                conn,
                key_id=principal.key_id,
                now=state.clock.now(),
                every=timedelta(seconds=every_s),
            )
    return principal


Caller = Annotated[Principal, Depends(get_principal)]
