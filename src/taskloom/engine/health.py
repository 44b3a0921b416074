"""What `/health` reports: can this process reach its store, and are its workers alive."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from taskloom import errors
from taskloom.engine.supervisor import Supervisor
from taskloom.engine.worker import Worker
from taskloom.sandbox import SandboxPool
from taskloom.store.database import Database

_PING = sa.select(sa.literal(1))


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    store: str  # "ok" | "unavailable"
    workers: dict[str, Any] = field(default_factory=dict)  # loop -> its state; {} = none
    process: dict[str, Any] = field(default_factory=dict)  # the process's own side tasks
    sandbox: str | None = None  # how code nodes run here: bwrap, subprocess, refused

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "unavailable",
            "store": self.store,
            "workers": self.workers or None,
            "process": self.process,
            "sandbox": self.sandbox,
        }


async def check(
    db: Database,
    worker: Worker | None,
    process: Supervisor,
    sandbox: SandboxPool | None = None,
) -> Health:
    store = "ok"
    try:
        async with db.read() as conn:
            await conn.execute(_PING)
    except errors.StoreUnavailable:
        store = "unavailable"
    workers = worker.side_tasks.report() if worker is not None else {}
    alive = (worker is None or worker.side_tasks.healthy) and process.healthy
    return Health(
        ok=store == "ok" and alive,
        store=store,
        workers=workers,
        process=process.report(),
        sandbox=sandbox.mode.value if sandbox is not None else None,
    )
