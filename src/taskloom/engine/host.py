"""Opens everything a process needs to run tasks, in order, and closes it in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from taskloom.clock import Clock, SystemClock
from taskloom.config import Settings
from taskloom.engine.channels.email import EmailChannel
from taskloom.engine.channels.slack import SlackChannel
from taskloom.engine.channels.targets import TargetRules
from taskloom.engine.channels.webhook import WebhookChannel, http_sender
from taskloom.engine.intake import Intake
from taskloom.engine.notifications import Notifications
from taskloom.engine.notify import Notifier
from taskloom.engine.runner import Runner
from taskloom.engine.schedules import Schedules
from taskloom.engine.sdk_workers import SdkWorkers
from taskloom.engine.subtasks import SubTasks
from taskloom.engine.supervisor import Supervisor, every
from taskloom.engine.tasks import TaskService
from taskloom.engine.toolkits import ToolkitCatalog
from taskloom.engine.waits import Waits
from taskloom.engine.worker import Worker
from taskloom.knowledge.runtime import Knowledge, open_knowledge
from taskloom.llm import LLMService
from taskloom.llm.call_metrics import CallMetrics
from taskloom.llm.observe import combine
from taskloom.llm.tools.http_client import SharedHttpClient
from taskloom.nodes.base import NodeServices
from taskloom.sandbox import SandboxPool
from taskloom.secrets import Secrets
from taskloom.store.database import Database
from taskloom.store.migrate import upgrade

if TYPE_CHECKING:
    from taskloom.engine.tracing import Tracing

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Host:
    db: Database
    notifier: Notifier
    worker: Worker | None
    intake: Intake
    tasks: TaskService
    secrets: Secrets
    sdk_workers: SdkWorkers
    clock: Clock
    side_tasks: Supervisor  # the process's own, beside the worker's
    waits: Waits
    notifications: Notifications
    http: SharedHttpClient  # every outbound request of tools goes through it
    toolkits: ToolkitCatalog
    knowledge: Knowledge
    sandbox: SandboxPool | None = None
    llm_calls: CallMetrics | None = None  # this process's model calls; None without workers


async def open_tracing(
    stack: contextlib.AsyncExitStack, settings: Settings, provider: Any
) -> Tracing | None:
    """Spans on `provider` (a test's), else on one exporting as `settings.tracing` says;
    None when tracing is off, or asked for without the `otel` extra (said at start-up)."""
    if provider is None and settings.tracing == "off":
        return None
    try:
        from taskloom.engine.tracing import Tracing, exporting_provider

        if provider is None:
            provider = exporting_provider(settings.tracing)
            # flushes the spans still batched; the exporter's last send blocks
            stack.push_async_callback(asyncio.to_thread, provider.shutdown)
    except ImportError as exc:
        # not a crash: the server runs on, and says at start-up why there are no traces
        logger.error(
            "TASKLOOM_TRACING is set but OpenTelemetry is not installed "
            "(pip install 'taskloom[otel]'): running without traces",
            extra={
                "event": "tracing_unavailable",
                "tracing": settings.tracing,
                "missing": exc.name,
            },
        )
        return None
    return Tracing(provider)


@contextlib.asynccontextmanager
async def open_host(
    settings: Settings,
    *,
    run_worker: bool,
    clock: Clock | None = None,
    tracer_provider: Any = None,
) -> AsyncIterator[Host]:
    """The database (migrated), and with `run_worker` the sandbox pool and a running worker.
    `tracer_provider` (an OpenTelemetry one) turns tracing on whatever the settings say."""
    clock = clock or SystemClock()
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
        notifier = Notifier(clock)
        side_tasks = Supervisor(clock, owner="host")
        stack.push_async_callback(side_tasks.stop)
        if not db.is_sqlite:
            side_tasks.start("notify-relay", lambda: notifier.relay(db))
        secrets = Secrets(db, settings.secret_key)
        channel_config = settings.channels()
        targets = TargetRules(
            seal=secrets.seal,
            max_recipients=channel_config.max_recipients,
            max_channels=channel_config.max_channels,
        )
        intake = Intake(db, notifier, worker_config, clock=clock, targets=targets)
        tasks = TaskService(db, notifier, worker_config, clock=clock)
        subtasks = SubTasks(db, intake, tasks, notifier)
        waits = Waits(db, notifier, clock, settings.links(), targets=targets)
        # every outbound request (tools, MCP, webhooks) goes through the egress-checked client
        http = SharedHttpClient(settings.egress())
        stack.push_async_callback(http.aclose)
        notifications = Notifications(
            db,
            clock,
            {
                "webhook": WebhookChannel(http_sender(http)),
                "email": EmailChannel(channel_config.smtp),
                "slack": SlackChannel(http, channel_config.slack_api_url),
            },
            settings.deliveries(),
            unseal=secrets.unseal,
        )
        toolkits = ToolkitCatalog(db, secrets)
        knowledge = await open_knowledge(db, http, settings.knowledge(), clock)
        worker: Worker | None = None
        sandbox: SandboxPool | None = None
        llm_calls: CallMetrics | None = None
        if run_worker:
            sandbox = await stack.enter_async_context(SandboxPool(settings.sandbox()))
            tracing = await open_tracing(stack, settings, tracer_provider)
            llm_calls = CallMetrics(clock)
            llm_config = settings.llm()
            llm = await stack.enter_async_context(
                LLMService(llm_config, observer=combine(llm_calls, tracing))
            )
            services = NodeServices(
                sandbox=sandbox,
                llm=llm,
                llm_config=llm_config,
                http=http,
                egress=settings.egress(),
                subtasks=subtasks,
                secrets=secrets,
                waits=waits,
                toolkits=toolkits,
                max_nesting_depth=settings.max_nesting_depth,
                knowledge=knowledge.search,
            )
            runner = Runner(
                db,
                services,
                worker_config,
                notifier,
                subtasks=subtasks,
                waits=waits,
                clock=clock,
                tracing=tracing,
            )
            worker = Worker(db, runner, notifier, worker_config, clock=clock)
            # a wait's deadline, or a schedule's slot, is fired by whichever process's sweep
            # sees it due first
            side_tasks.start(
                "wait-deadlines", lambda: every(clock, worker_config.sweep_s, waits.fire_due)
            )
            schedules = Schedules(db, intake, clock, grace_s=settings.schedule_grace_s)
            side_tasks.start(
                "schedules", lambda: every(clock, worker_config.sweep_s, schedules.fire_due)
            )
            side_tasks.start("knowledge-ingest", knowledge.ingestor.run)
            side_tasks.start(
                "webhook-deliveries",
                lambda: every(clock, worker_config.sweep_s, notifications.deliver_due),
            )
        host = Host(
            db=db,
            notifier=notifier,
            worker=worker,
            intake=intake,
            tasks=tasks,
            secrets=secrets,
            sdk_workers=SdkWorkers(db, notifier, worker_config, clock=clock),
            clock=clock,
            side_tasks=side_tasks,
            waits=waits,
            notifications=notifications,
            http=http,
            toolkits=toolkits,
            knowledge=knowledge,
            sandbox=sandbox,
            llm_calls=llm_calls,
        )
        if worker is None:
            yield host
            return
        running = asyncio.create_task(worker.run(), name=f"{worker.id}:run")
        try:
            yield host
        finally:
            worker.stop()
            await running
