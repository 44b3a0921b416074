"""Opens everything a process needs to run tasks, in order, and closes it in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from taskloom.config import Settings
from taskloom.engine.notify import Notifier
from taskloom.engine.runner import Runner
from taskloom.engine.sdk_workers import SdkWorkers
from taskloom.engine.subtasks import SubTasks
from taskloom.engine.tasks import TaskService
from taskloom.engine.worker import Worker
from taskloom.llm import LLMService
from taskloom.llm.tools.http_client import SharedHttpClient
from taskloom.nodes.base import NodeServices
from taskloom.sandbox import SandboxPool
from taskloom.secrets import Secrets
from taskloom.store.database import Database
from taskloom.store.migrate import upgrade

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Host:
    db: Database
    notifier: Notifier
    worker: Worker | None
    tasks: TaskService
    secrets: Secrets
    sdk_workers: SdkWorkers


@contextlib.asynccontextmanager
async def open_host(settings: Settings, *, run_worker: bool) -> AsyncIterator[Host]:
    """The database (migrated), and with `run_worker` the sandbox pool and a running worker."""
    worker_config = settings.worker()
    async with contextlib.AsyncExitStack() as stack:
        db = await stack.enter_async_context(
            Database(
                settings.database_url,
                pool_size=settings.db_pool_size,
                pool_timeout_s=settings.db_pool_timeout_s,
            )
        )
        await upgrade(db)
        notifier = Notifier()
        if not db.is_sqlite:
            await stack.enter_async_context(notifier.relay(db))
        secrets = Secrets(db, settings.secret_key)
        subtasks = SubTasks(db)
        worker: Worker | None = None
        if run_worker:
            sandbox = await stack.enter_async_context(SandboxPool(settings.sandbox()))
            llm_config = settings.llm()
            llm = await stack.enter_async_context(LLMService(llm_config))
            http = SharedHttpClient(settings.egress())
            stack.push_async_callback(http.aclose)
            services = NodeServices(
                sandbox=sandbox,
                llm=llm,
                llm_config=llm_config,
                http=http,
                egress=settings.egress(),
                subtasks=subtasks,
                secrets=secrets,
            )
            runner = Runner(db, services, worker_config, notifier)
            worker = Worker(db, runner, notifier, worker_config)
        host = Host(
            db=db,
            notifier=notifier,
            worker=worker,
            tasks=TaskService(db, notifier, worker, worker_config),
            secrets=secrets,
            sdk_workers=SdkWorkers(db, notifier, worker_config),
        )
        subtasks.attach(host.tasks, worker)
        if worker is None:
            yield host
            return
        running = asyncio.create_task(worker.run(), name=f"{worker.id}:run")
        try:
            yield host
        finally:
            worker.stop()
            await running
