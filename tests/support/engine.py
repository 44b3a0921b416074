"""The engine in-process, on a manual clock: a real store, notifier, runner and worker, and
no HTTP. Tests drive the worker's steps (`claim_once`, `heartbeat_once`, `sweep_once`) by
hand and move time with `clock.advance()`."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from taskloom.clock import ManualClock
from taskloom.config import Settings
from taskloom.engine.channels.targets import TargetRules
from taskloom.engine.intake import Accepted, Intake, Invocation
from taskloom.engine.notify import Notifier
from taskloom.engine.runner import Runner
from taskloom.engine.subtasks import SubTasks
from taskloom.engine.tasks import TaskService
from taskloom.engine.waits import Waits
from taskloom.engine.worker import Worker
from taskloom.llm.base import Completion, Message
from taskloom.llm.choice import ModelChoice
from taskloom.nodes.base import NodeServices
from taskloom.sandbox import SandboxPool
from taskloom.secrets import Secrets
from taskloom.store import keys as key_store
from taskloom.store import queue
from taskloom.store import workflows as workflow_store
from taskloom.store.database import Connection, Database
from taskloom.store.migrate import upgrade
from taskloom.store.records import TaskRecord


class WriteSpy:
    """Counts the store's write transactions as they commit (`count`); `committed` is set by
    each one (clear it to wait for the next). Every write still goes to the real store."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        self.committed = asyncio.Event()
        self._write = db.write

    @classmethod
    def on(cls, db: Database, monkeypatch: pytest.MonkeyPatch) -> WriteSpy:
        spy = cls(db)
        monkeypatch.setattr(db, "write", spy.write)
        return spy

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Connection]:
        async with self._write() as conn:
            yield conn
        self.count += 1
        self.committed.set()


@dataclass
class GatedModels:
    """A model that answers `answer` once the test opens `gate` (the first `free` calls
    answer at once); `keys` lists the idempotency key of every call that arrived, and
    `called` is set by each one (clear it to wait for the next)."""

    answer: str = "done"
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    called: asyncio.Event = field(default_factory=asyncio.Event)
    free: int = 0
    keys: list[str] = field(default_factory=list)
    request_timeout_s: float = 30.0

    @property
    def calls(self) -> int:
        return len(self.keys)

    async def model(self, choice: ModelChoice) -> GatedModels:
        return self

    @property
    def name(self) -> str:
        return "gated"

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        system: str,
        output_schema: Mapping[str, Any] | None = None,
        idempotency_key: str,
        timeout_s: float,
    ) -> Completion:
        self.keys.append(idempotency_key)
        self.called.set()
        if len(self.keys) > self.free:
            await self.gate.wait()
        return Completion(text=self.answer)


def approval_workflow(
    *, rejection_route: bool = False, timeout_s: float | None = None, on_timeout: str = "reject"
) -> dict[str, Any]:
    """A person approves (`ask`), then the model answers (`ship`); with `rejection_route`,
    a rejection goes to `fix` (another model call) instead of ending the run."""
    wait: dict[str, Any] = {"type": "hitl", "definition": {"subject": "Ship it?"}}
    if timeout_s is not None:
        wait |= {"timeout_seconds": timeout_s, "on_timeout": on_timeout}
    nodes: list[dict[str, Any]] = [
        {
            "id": "ask",
            "type": "wait",
            "name": "ask",
            "definition": wait,
            "next_node_ids": ["fix", "ship"] if rejection_route else ["ship"],
        },
        {"id": "ship", "type": "summarizer", "name": "ship", "definition": {}},
    ]
    if rejection_route:
        nodes.append(
            {
                "id": "fix",
                "type": "summarizer",
                "name": "fix",
                "definition": {},
                "condition": {"type": "equal", "path": "approved", "value": False},
            }
        )
    return {"name": "approval", "orchestration_nodes": nodes}


def summarizer_workflow(nodes: int = 1) -> dict[str, Any]:
    """A chain of `nodes` summarizers: every node is one call to the (gated) model."""
    ids = [f"s{i}" for i in range(nodes)]
    return {
        "name": "chain",
        "orchestration_nodes": [
            {
                "id": node_id,
                "type": "summarizer",
                "name": node_id,
                "definition": {},
                "next_node_ids": ids[i + 1 : i + 2],
            }
            for i, node_id in enumerate(ids)
        ],
    }


@dataclass
class Engine:
    db: Database
    clock: ManualClock
    notifier: Notifier
    settings: Settings
    models: GatedModels
    intake: Intake
    tasks: TaskService
    waits: Waits
    worker: Worker
    organization_id: str
    secrets: Secrets | None = None

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.lease_s)

    async def deploy(self, definition: dict[str, Any], *, kind: str = "workflow") -> str:
        """Create and deploy a workflow (or, with `kind="agent"`, an agent definition)."""
        workflow_id = str(uuid.uuid4())
        async with self.db.write() as conn:
            await workflow_store.create_workflow(
                conn,
                workflow_id=workflow_id,
                organization_id=self.organization_id,
                name=definition["name"],
                draft=definition,
                now=self.clock.now(),
                kind=kind,
            )
            await workflow_store.deploy_workflow(
                conn,
                organization_id=self.organization_id,
                workflow_id=workflow_id,
                now=self.clock.now(),
                kind=kind,
            )
        return workflow_id

    async def invoke(self, workflow_id: str, text: str = "hello") -> Accepted:
        return await self.intake.invoke(
            Invocation(
                organization_id=self.organization_id,
                workflow_id=workflow_id,
                version=None,
                input={"text": text},
                request={},
            )
        )

    async def task(self, task_id: str) -> TaskRecord:
        return await self.tasks.get(organization_id=self.organization_id, task_id=task_id)

    async def claim_as(self, worker_id: str, limit: int = 100) -> list[TaskRecord]:
        """Lease pending tasks to a worker that then never runs them (a dead process)."""
        async with self.db.write() as conn:
            return await queue.claim_tasks(
                conn,
                worker_id=worker_id,
                limit=limit,
                now=self.clock.now(),
                lease_for=self.lease,
                skip_locked=not self.db.is_sqlite,
            )

    async def settled(self, task_id: str) -> TaskRecord:
        """The task once its current attempt has ended (terminal, or back in the queue)."""
        return await self.tasks.wait_settled(
            organization_id=self.organization_id, task_id=task_id, timeout_s=3600
        )


@contextlib.asynccontextmanager
async def open_engine(
    settings: Settings, *, clock: ManualClock | None = None, **worker_overrides: Any
) -> AsyncIterator[Engine]:
    """The pieces `open_host` builds, built by hand around a manual clock; the worker's loops
    are not started: the test calls their steps."""
    clock = clock or ManualClock()
    config = settings.worker()
    async with Database(settings.database_url) as db:
        await upgrade(db)
        async with db.write() as conn:
            org = await key_store.ensure_organization(conn, name="acme", now=clock.now())
        notifier = Notifier(clock)
        models = GatedModels()
        secrets = Secrets(db, settings.secret_key)
        channels = settings.channels()
        # as open_host keeps them: Slack bot tokens sealed with the server's secret key
        targets = TargetRules(
            seal=secrets.seal,
            max_recipients=channels.max_recipients,
            max_channels=channels.max_channels,
        )
        intake = Intake(db, notifier, config, clock=clock, targets=targets)
        tasks = TaskService(db, notifier, config, clock=clock)
        subtasks = SubTasks(db, intake, tasks, notifier)
        waits = Waits(db, notifier, clock, settings.links(), targets=targets)
        services = NodeServices(
            sandbox=SandboxPool(settings.sandbox()), llm=models, subtasks=subtasks, waits=waits
        )
        runner = Runner(db, services, config, notifier, subtasks=subtasks, waits=waits, clock=clock)
        worker = Worker(db, runner, notifier, config, clock=clock, **worker_overrides)
        engine = Engine(
            db, clock, notifier, settings, models, intake, tasks, waits, worker, org, secrets
        )
        try:
            yield engine
        finally:
            models.gate.set()
            await worker.drain()
