"""Settings: the only place that reads the environment. Built once at the edge, passed down."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///taskloom.db"


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """How user code (`code` nodes) is run: always outside the server process."""

    # auto: bubblewrap when it works; without it, unisolated subprocesses on a local
    # developer's server only, and code nodes refused anywhere else
    mode: Literal["auto", "bwrap", "subprocess"] = "auto"
    # bound to loopback and on SQLite: nobody else can reach it, so `auto` may fall back to
    # running user code unisolated (with a warning) rather than refuse code nodes
    local_dev_server: bool = False
    bwrap: str = "bwrap"  # the bubblewrap executable: a name looked up on PATH, or a path
    # who user code runs as under bubblewrap; never the server's own uid when it is root
    uid: int = 65534
    gid: int = 65534
    # processes (and threads) user code may have at once, per interpreter (RLIMIT_NPROC)
    process_limit: int = 64
    pool_size: int = 4  # warm interpreters kept ready
    # an org's interpreter idle this long is retired (~15 MiB each): a burst's interpreters
    # do not stay resident; the `pool_size` spares do
    idle_s: float = 30.0
    # past the `idle_keep` most recently used, idle org interpreters go sooner: a burst's
    # surplus is memory nobody may use again, the few kept serve the next runs warm
    idle_keep: int = 2
    idle_surplus_s: float = 5.0
    max_runs_per_interpreter: int = 2000  # recycle after this many runs
    # runs of one org that arrive together (a parallel node's branches) share one interpreter
    # and one round trip, this many at most, when their code's last run took at most
    # `batch_run_ms`; slower code keeps an interpreter per run, so it runs side by side
    batch_size: int = 64
    batch_run_ms: float = 2.0
    # how long runs of a batch wait on one another: a new code's runs for its first run's
    # answer (is it quick?), answered runs for the next answer (to go on together)
    batch_wait_ms: float = 50.0
    # an org's quick batches in flight at once, each in an interpreter of its own; quick runs
    # arriving meanwhile wait for one to go as the next batch (one more lane opens when
    # they all answered nothing for `batch_wait_ms`)
    batch_lanes: int = 2
    memory_limit_mb: int = 512
    cpu_limit_s: int = 30  # per interpreter lifetime (RLIMIT_CPU)
    output_limit_bytes: int = 1_048_576
    input_limit_bytes: int = 4_194_304
    code_limit_bytes: int = 262_144


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """The claim loop, leases and the sweeper."""

    concurrency: int = 64  # tasks run at once by one worker process
    lease_s: float = 15.0
    heartbeat_s: float = 3.0
    sweep_s: float = 5.0
    poll_s: float = 0.5  # fallback when no wake-up hint arrives
    max_attempts: int = 3
    node_timeout_s: float = 60.0
    max_node_runs: int = 1000  # per turn: bounds loops made with node_pointer
    shutdown_grace_s: float = 10.0
    # a node still running after this long gets its node_started event written on its own;
    # a faster one has it written with its finish, in one transaction
    progress_delay_s: float = 0.05


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """Approve / deny links sent when a `hitl` wait starts."""

    public_url: str = "http://127.0.0.1:8000"  # where a person's browser reaches taskloom
    ttl_s: float = 7 * 24 * 3600.0  # a link without a wait deadline expires after this


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """Outbound webhooks (completion notifications)."""

    timeout_s: float = 10.0  # one attempt
    retry_window_s: float = 72 * 3600.0  # retried until this long after the turn ended
    first_backoff_s: float = 5.0
    max_backoff_s: float = 3600.0
    secret_grace_s: float = 24 * 3600.0  # a rotated-out secret keeps signing this long
    concurrency: int = 8  # attempts one process makes at once (every channel)


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """The operator's mail server, through which email notifications go."""

    host: str
    sender: str  # the From address
    port: int = 587
    tls: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """Email and Slack notifications beside webhooks."""

    smtp: SmtpConfig | None = None  # None: email deliveries fail, saying so
    slack_api_url: str = "https://slack.com/api"
    max_recipients: int = 50  # addresses in one email entry
    max_channels: int = 20  # Slack channels in one entry (one message each)


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Limits enforced at the HTTP edge."""

    max_body_bytes: int = 4_194_304
    max_json_depth: int = 64  # arrays and objects inside each other in a request body
    max_nodes: int = 200
    # workflows run by orchestration nodes, inside each other: levels below the top one
    max_nesting_depth: int = 4
    max_per_page: int = 50  # list routes (docs/api.md: 1-50)
    max_page: int = 10_000  # deeper pages cost a scan of every row before them
    sync_wait_s: float = 300.0  # a sync invoke waits this long, then answers 202
    key_cache_s: float = 30.0
    key_use_record_s: float = 60.0  # a key's last use is written at most this often
    task_view_cache_entries: int = 4096  # tasks whose rendered reply a process keeps for polls
    webhook_max_files: int = 10  # files one inbound webhook may upload
    webhook_max_file_bytes: int = 1_048_576  # each becomes an attachment of the task's input


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """Model providers for LLM-backed nodes. The API keys are the server's own: they are sent
    only to the base URL configured for their provider, never to one a workflow names."""

    default_provider: str = "openai"
    default_openai_model: str = "gpt-4o-mini"
    default_anthropic_model: str = "claude-haiku-4-5"
    openai_base_url: str = "https://api.openai.com/v1"
    anthropic_base_url: str = "https://api.anthropic.com"
    # other OpenAI-compatible endpoints a workflow may name in `llm_api_base` (sent no key)
    allowed_api_bases: tuple[str, ...] = ()
    openai_api_key: SecretStr | None = field(default=None, repr=False)
    anthropic_api_key: SecretStr | None = field(default=None, repr=False)
    request_timeout_s: float = 60.0  # one attempt; the node's own timeout bounds them all
    max_retries: int = 2  # after a 429, a 5xx, a lost connection or a timed-out attempt
    backoff_s: float = 0.5  # first wait between attempts, doubled each time, with jitter
    max_backoff_s: float = 8.0
    tool_call_limit: int = 20  # an agent's tool calls per run, unless the agent sets its own
    output_retries: int = 2  # asks again when structured output does not match its schema
    tool_timeout_s: float = 30.0  # one HTTP action or MCP tool call
    tool_result_limit_bytes: int = 65_536  # a tool's answer, cut to this before the model sees it


@dataclass(frozen=True, slots=True)
class EgressConfig:
    """Where agents' tools (HTTP actions, MCP servers) may connect. Private, loopback and
    link-local addresses are refused unless listed here (hosts or CIDR networks)."""

    allowed_hosts: tuple[str, ...] = ()
    allowed_networks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KnowledgeConfig:
    """Knowledge bases: what documents may be, how they are cut and embedded."""

    max_file_bytes: int = 4_194_304  # one uploaded or fetched document
    max_files: int = 20  # documents one request may add (files or URLs)
    chunk_chars: int = 1000
    overlap_chars: int = 150
    max_chunks_per_document: int = 20_000
    max_top_k: int = 50
    max_query_chars: int = 2000
    # `local`: the bundled model; `openai`: any OpenAI-compatible /embeddings endpoint
    embedder: Literal["local", "openai"] = "local"
    embeddings_base_url: str = "https://api.openai.com/v1"
    embeddings_model: str = "text-embedding-3-small"
    embeddings_api_key: SecretStr | None = field(default=None, repr=False)
    embed_batch: int = 32
    local_threads: int = 1  # onnxruntime threads for the bundled model
    fetch_timeout_s: float = 30.0
    lease_s: float = 120.0  # an ingestion's lease, renewed after every embedded batch
    poll_s: float = 1.0  # how often an idle ingestion worker looks for documents
    max_attempts: int = 3  # a document whose fetch or embedding fails this often fails


@dataclass(frozen=True, slots=True)
class DemoModelConfig:
    """`taskloom demo-model`: a small local model behind an OpenAI-compatible endpoint."""

    host: str = "127.0.0.1"
    port: int = 8765
    context_tokens: int = 2048  # prompt and answer together
    max_tokens: int = 256  # the longest answer, whatever a request asks
    threads: int = 2  # CPU threads llama.cpp computes with
    temperature: float = 0.2  # for requests that name none


class Settings(BaseSettings):
    """Every knob, from TASKLOOM_* variables; the CLI overrides a few with flags."""

    model_config = SettingsConfigDict(env_prefix="TASKLOOM_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL  # sqlite:///path.db or postgresql://user@host/db
    db_pool_size: int = 10  # PostgreSQL connections per process (and as many again on demand)
    db_pool_timeout_s: float = 60.0  # wait for a free pooled connection, then fail
    host: str = "127.0.0.1"  # the address `serve` listens on
    port: int = 8000  # the port `serve` listens on
    log_level: str = "info"  # debug, info, warning, error
    log_format: Literal["text", "json"] = "text"  # json: one object a line, with the ids
    # OpenTelemetry traces (needs `pip install taskloom[otel]`): `otlp` sends them where the
    # standard OTEL_EXPORTER_OTLP_* variables say, `console` prints them; off by default
    tracing: Literal["off", "otlp", "console"] = "off"
    embedded_workers: bool = True  # `serve` runs workers too; false: API only
    # `taskloom worker` serves its own model-call and sandbox figures at /metrics on this port
    # (on `host`); unset, a worker-only process serves nothing
    worker_metrics_port: int | None = Field(default=None, ge=0, le=65535)

    worker_concurrency: int = 64  # tasks one worker process runs at once
    lease_s: float = 15.0  # a dead worker's tasks are requeued after this
    heartbeat_s: float = 3.0  # how often a worker renews its leases
    sweep_s: float = 5.0  # how often expired leases and deadlines are swept
    poll_s: float = 0.5
    max_attempts: int = 3  # attempts before a task fails `worker_lost`
    node_timeout_s: float = 60.0  # a node's limit unless it sets timeout_seconds
    max_node_runs: int = 1000
    shutdown_grace_s: float = 10.0  # running tasks get this long to finish on stop
    progress_delay_s: float = 0.05

    sandbox_mode: Literal["auto", "bwrap", "subprocess"] = "auto"
    sandbox_bwrap: str = "bwrap"
    sandbox_uid: int = Field(default=65534, gt=0)
    sandbox_gid: int = Field(default=65534, gt=0)  # the group user code runs as
    sandbox_process_limit: int = Field(default=64, ge=8)
    sandbox_pool_size: int = 4
    # an interpreter started for a burst and idle this long is retired (the warm ones stay)
    sandbox_idle_s: float = Field(default=30.0, gt=0)
    # idle org interpreters past this many (the most recently used stay) are retired after
    # `sandbox_idle_surplus_s`, not `sandbox_idle_s`: a burst's surplus is ~15 MiB each
    sandbox_idle_keep: int = Field(default=2, ge=0)
    sandbox_idle_surplus_s: float = Field(default=5.0, gt=0)  # see sandbox_idle_keep
    sandbox_memory_limit_mb: int = 512  # address space of one code interpreter
    sandbox_output_limit_bytes: int = 1_048_576  # largest result a code node may return
    # quick code runs of one org that arrive together (a parallel node's branches) share one
    # interpreter and one round trip, at most this many (1: never batched)
    sandbox_batch_size: int = Field(default=64, ge=1, le=1000)
    # a code run is quick when the quickest of the code's last three runs took at most this
    # long; slower code keeps an interpreter per run, so that its runs go side by side
    sandbox_batch_run_ms: float = Field(default=2.0, ge=0)
    # how long runs of a batch wait on one another: runs of a code not seen before for the
    # first one's answer (does it run quick?), answered runs for the next answer (so that
    # the branches they belong to go on together and share a checkpoint transaction)
    sandbox_batch_wait_ms: float = Field(default=50.0, ge=0, le=10_000)
    # an org's batches of quick runs in flight at once, each in an interpreter of its own:
    # quick runs arriving meanwhile wait for one to come back and go as the next batch,
    # rather than start more interpreters (~15 MiB each); one more opens when the lanes
    # answered nothing for `sandbox_batch_wait_ms` (stuck on runs gone slow)
    sandbox_batch_lanes: int = Field(default=2, ge=1, le=64)

    max_body_bytes: int = 4_194_304  # request bodies past it get 413
    # past ~250 levels validating and storing a body runs out of recursion (a 500)
    max_json_depth: int = Field(default=64, ge=1, le=200)
    max_nodes: int = 200  # nodes per workflow, parallel branches included
    # orchestration nodes run workflows inside workflows: this many levels below the top one,
    # checked at deploy and again at run time
    max_nesting_depth: int = Field(default=4, ge=0, le=32)
    max_page: int = Field(default=10_000, ge=1, le=1_000_000)
    max_per_page: int = Field(default=50, ge=1, le=1000)  # the contract's is 50
    sync_wait_s: float = 300.0
    # how often, at most, a key's `last used` time is written (per key and process)
    key_use_record_s: float = Field(default=60.0, gt=0)
    # tasks whose rendered reply a process keeps for polls (api/views.py; a few KiB each)
    task_view_cache_entries: int = Field(default=4096, ge=0, le=1_000_000)
    # where people's browsers reach this server (approve / deny links in notifications), and
    # how long such a link lasts when its wait has no deadline
    public_url: str = "http://127.0.0.1:8000"
    hitl_link_ttl_s: float = Field(default=7 * 24 * 3600.0, gt=0)  # a link's life if no deadline
    # outbound webhooks: one attempt's timeout, how long one is retried, how long a rotated
    # signing secret keeps signing beside the new one
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_first_backoff_s: float = Field(default=5.0, gt=0)  # doubles each retry, to 1 h
    webhook_retry_window_s: float = Field(default=72 * 3600.0, gt=0)
    webhook_secret_grace_s: float = Field(default=24 * 3600.0, ge=0)
    # notification attempts (webhook, email, Slack) one process makes at once
    delivery_concurrency: int = Field(default=8, ge=1, le=256)
    # email notifications: the operator's SMTP server (none: email deliveries fail, saying so)
    smtp_host: str | None = None
    # its port; by default 587 for starttls, 465 for ssl, 25 for none
    smtp_port: int | None = Field(default=None, gt=0, lt=65536)
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"  # how the connection is secured
    smtp_username: str | None = None  # a login, when the server asks for one
    smtp_password: SecretStr | None = None  # the login's password
    smtp_from: str | None = None  # the sender address (default taskloom@<smtp_host>)
    # Slack notifications: the Web API's base URL (a test points it at a loopback fake)
    slack_api_url: str = "https://slack.com/api"
    # recipients of one email entry; past it the delivery is recorded as failed
    notification_max_recipients: int = Field(default=50, ge=1, le=1000)
    # channels of one Slack entry; past it the delivery is recorded as failed
    notification_max_channels: int = Field(default=20, ge=1, le=1000)
    # a schedule's slot found later than this (the server was down) follows its catch_up
    schedule_grace_s: float = Field(default=60.0, gt=0)
    webhook_max_files: int = Field(default=10, ge=0, le=1000)
    webhook_max_file_bytes: int = Field(default=1_048_576, ge=0)

    llm_default_provider: str = "openai"  # for nodes that name no provider
    llm_default_openai_model: str = "gpt-4o-mini"  # for nodes that name no model
    llm_default_anthropic_model: str = "claude-haiku-4-5"  # for nodes that name no model
    llm_openai_base_url: str = "https://api.openai.com/v1"  # where OPENAI_API_KEY is sent
    llm_anthropic_base_url: str = "https://api.anthropic.com"  # where ANTHROPIC_API_KEY goes
    llm_allowed_api_bases: list[str] = Field(default_factory=list)
    llm_request_timeout_s: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    llm_backoff_s: float = Field(default=0.5, ge=0)
    llm_max_backoff_s: float = Field(default=8.0, ge=0)  # longest wait between attempts
    # the providers' own variable names, without the TASKLOOM_ prefix; sent only to
    # llm_openai_base_url
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key")
    )
    # sent only to llm_anthropic_base_url
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_API_KEY", "anthropic_api_key")
    )
    llm_tool_call_limit: int = Field(default=20, ge=0, le=1000)
    llm_output_retries: int = Field(default=2, ge=0, le=10)
    tool_timeout_s: float = Field(default=30.0, gt=0)
    tool_result_limit_bytes: int = Field(default=65_536, gt=0)
    toolkit_max_operations: int = Field(default=500, ge=1, le=10_000)  # operations per toolkit
    # an OpenAPI document fetched from a URL (an uploaded one is bounded by max_body_bytes)
    toolkit_document_max_bytes: int = Field(default=4_194_304, gt=0)
    egress_allowed_hosts: list[str] = Field(default_factory=list)  # private hosts tools may reach
    egress_allowed_networks: list[str] = Field(default_factory=list)  # and private CIDRs
    # encrypts named secrets (provider keys) at rest; without it they cannot be stored
    secret_key: SecretStr | None = None

    # knowledge bases (docs/knowledge.md)
    knowledge_max_file_bytes: int = Field(default=4_194_304, gt=0)
    knowledge_max_files: int = Field(default=20, ge=1, le=1000)  # files one upload may carry
    # a chunk's target size, in characters
    knowledge_chunk_chars: int = Field(default=1000, ge=100, le=100_000)
    # characters neighbouring chunks share
    knowledge_overlap_chars: int = Field(default=150, ge=0, le=10_000)
    # a document cut into more chunks fails
    knowledge_max_chunks_per_document: int = Field(default=20_000, ge=1)
    knowledge_max_top_k: int = Field(default=50, ge=1, le=1000)  # the largest top_k a search takes
    # the longest search_query
    knowledge_max_query_chars: int = Field(default=2000, ge=1, le=100_000)
    # local: the bundled MiniLM model; openai: an /embeddings endpoint
    knowledge_embedder: Literal["local", "openai"] = "local"
    # the OpenAI-compatible endpoint of the openai embedder
    knowledge_embeddings_base_url: str = "https://api.openai.com/v1"
    # the model that endpoint embeds with
    knowledge_embeddings_model: str = "text-embedding-3-small"
    # its key (none: no Authorization header)
    knowledge_embeddings_api_key: SecretStr | None = Field(default=None, repr=False)
    knowledge_embed_batch: int = Field(default=32, ge=1, le=2048)  # texts embedded per call
    # CPU threads of the local embedder
    knowledge_local_threads: int = Field(default=1, ge=1, le=64)
    knowledge_fetch_timeout_s: float = Field(default=30.0, gt=0)  # fetching a document by URL
    # an ingestion's lease, renewed after each embedding batch
    knowledge_lease_s: float = Field(default=120.0, gt=0)
    # how often an idle ingestion worker looks for documents
    knowledge_poll_s: float = Field(default=1.0, gt=0)
    # ingestion tries before a document fails
    knowledge_max_attempts: int = Field(default=3, ge=1, le=100)

    # `taskloom demo-model` (the `demo` extra): where it listens, loopback by default
    demo_model_host: str = "127.0.0.1"
    demo_model_port: int = Field(default=8765, gt=0, lt=65536)  # its port
    # tokens of prompt and answer together; a longer conversation is refused with a 400
    demo_model_context_tokens: int = Field(default=2048, ge=256, le=8192)
    # the longest answer it writes, whatever a request asks
    demo_model_max_tokens: int = Field(default=256, ge=1, le=4096)
    demo_model_threads: int = Field(default=2, ge=1, le=64)  # CPU threads it computes with
    # sampling temperature for requests that name none
    demo_model_temperature: float = Field(default=0.2, ge=0, le=2)

    def worker(self) -> WorkerConfig:
        return WorkerConfig(
            concurrency=self.worker_concurrency,
            lease_s=self.lease_s,
            heartbeat_s=self.heartbeat_s,
            sweep_s=self.sweep_s,
            poll_s=self.poll_s,
            max_attempts=self.max_attempts,
            node_timeout_s=self.node_timeout_s,
            max_node_runs=self.max_node_runs,
            shutdown_grace_s=self.shutdown_grace_s,
            progress_delay_s=self.progress_delay_s,
        )

    def sandbox(self) -> SandboxConfig:
        return SandboxConfig(
            mode=self.sandbox_mode,
            local_dev_server=self.is_local_dev_server(),
            bwrap=self.sandbox_bwrap,
            uid=self.sandbox_uid,
            gid=self.sandbox_gid,
            process_limit=self.sandbox_process_limit,
            pool_size=self.sandbox_pool_size,
            idle_s=self.sandbox_idle_s,
            idle_keep=self.sandbox_idle_keep,
            idle_surplus_s=self.sandbox_idle_surplus_s,
            memory_limit_mb=self.sandbox_memory_limit_mb,
            output_limit_bytes=self.sandbox_output_limit_bytes,
            batch_size=self.sandbox_batch_size,
            batch_run_ms=self.sandbox_batch_run_ms,
            batch_wait_ms=self.sandbox_batch_wait_ms,
            batch_lanes=self.sandbox_batch_lanes,
        )

    def links(self) -> LinkConfig:
        return LinkConfig(public_url=self.public_url, ttl_s=self.hitl_link_ttl_s)

    def deliveries(self) -> DeliveryConfig:
        return DeliveryConfig(
            timeout_s=self.webhook_timeout_s,
            first_backoff_s=self.webhook_first_backoff_s,
            retry_window_s=self.webhook_retry_window_s,
            secret_grace_s=self.webhook_secret_grace_s,
            concurrency=self.delivery_concurrency,
        )

    def channels(self) -> ChannelConfig:
        smtp = None
        if self.smtp_host:
            default_port = {"starttls": 587, "ssl": 465, "none": 25}[self.smtp_tls]
            smtp = SmtpConfig(
                host=self.smtp_host,
                sender=self.smtp_from or f"taskloom@{self.smtp_host}",
                port=self.smtp_port or default_port,
                tls=self.smtp_tls,
                username=self.smtp_username,
                password=self.smtp_password,
            )
        return ChannelConfig(
            smtp=smtp,
            slack_api_url=self.slack_api_url,
            max_recipients=self.notification_max_recipients,
            max_channels=self.notification_max_channels,
        )

    def is_local_dev_server(self) -> bool:
        """Bound to loopback only and on SQLite: a developer's own server, out of others' reach."""
        return _is_loopback(self.host) and self.database_url.startswith("sqlite")

    def api(self) -> ApiConfig:
        return ApiConfig(
            max_body_bytes=self.max_body_bytes,
            max_json_depth=self.max_json_depth,
            max_nodes=self.max_nodes,
            max_nesting_depth=self.max_nesting_depth,
            max_page=self.max_page,
            max_per_page=self.max_per_page,
            sync_wait_s=self.sync_wait_s,
            key_use_record_s=self.key_use_record_s,
            task_view_cache_entries=self.task_view_cache_entries,
            webhook_max_files=self.webhook_max_files,
            webhook_max_file_bytes=self.webhook_max_file_bytes,
        )

    def llm(self) -> LLMConfig:
        return LLMConfig(
            default_provider=self.llm_default_provider,
            default_openai_model=self.llm_default_openai_model,
            default_anthropic_model=self.llm_default_anthropic_model,
            openai_base_url=self.llm_openai_base_url,
            anthropic_base_url=self.llm_anthropic_base_url,
            allowed_api_bases=tuple(self.llm_allowed_api_bases),
            openai_api_key=self.openai_api_key,
            anthropic_api_key=self.anthropic_api_key,
            request_timeout_s=self.llm_request_timeout_s,
            max_retries=self.llm_max_retries,
            backoff_s=self.llm_backoff_s,
            max_backoff_s=self.llm_max_backoff_s,
            tool_call_limit=self.llm_tool_call_limit,
            output_retries=self.llm_output_retries,
            tool_timeout_s=self.tool_timeout_s,
            tool_result_limit_bytes=self.tool_result_limit_bytes,
        )

    def knowledge(self) -> KnowledgeConfig:
        if self.knowledge_overlap_chars >= self.knowledge_chunk_chars:
            raise ValueError("knowledge_overlap_chars must be smaller than knowledge_chunk_chars")
        return KnowledgeConfig(
            max_file_bytes=self.knowledge_max_file_bytes,
            max_files=self.knowledge_max_files,
            chunk_chars=self.knowledge_chunk_chars,
            overlap_chars=self.knowledge_overlap_chars,
            max_chunks_per_document=self.knowledge_max_chunks_per_document,
            max_top_k=self.knowledge_max_top_k,
            max_query_chars=self.knowledge_max_query_chars,
            embedder=self.knowledge_embedder,
            embeddings_base_url=self.knowledge_embeddings_base_url,
            embeddings_model=self.knowledge_embeddings_model,
            embeddings_api_key=self.knowledge_embeddings_api_key,
            embed_batch=self.knowledge_embed_batch,
            local_threads=self.knowledge_local_threads,
            fetch_timeout_s=self.knowledge_fetch_timeout_s,
            lease_s=self.knowledge_lease_s,
            poll_s=self.knowledge_poll_s,
            max_attempts=self.knowledge_max_attempts,
        )

    def demo_model(self) -> DemoModelConfig:
        return DemoModelConfig(
            host=self.demo_model_host,
            port=self.demo_model_port,
            context_tokens=self.demo_model_context_tokens,
            max_tokens=self.demo_model_max_tokens,
            threads=self.demo_model_threads,
            temperature=self.demo_model_temperature,
        )

    def egress(self) -> EgressConfig:
        return EgressConfig(
            allowed_hosts=tuple(self.egress_allowed_hosts),
            allowed_networks=tuple(self.egress_allowed_networks),
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost may resolve to anything
        return False
