"""The schema: every table on one MetaData, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on both engines (SQLite hands back naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if not isinstance(moment, datetime):
            raise TypeError(f"not a datetime: {value!r}")
        if moment.tzinfo is None:  # SQLite drops the zone; we only ever store UTC
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("organization_id", sa.ForeignKey("organizations.id"), nullable=False, index=True),
    # sha256 of the key: keys are 256 random bits, so a fast hash is enough and lookups stay cheap
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    # written at most once per `key_use_record_s` per key and process, never per request
    sa.Column("last_used_at", UtcDateTime(), nullable=True),
)

workflows = sa.Table(
    "workflows",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("organization_id", sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    # `workflow` or `agent`: both are deployed, versioned and invoked the same way
    sa.Column("kind", sa.String(16), nullable=False, server_default="workflow"),
    sa.Column("draft", sa.JSON(), nullable=False),  # the editable definition
    sa.Column("has_pending_changes", sa.Boolean(), nullable=False),
    sa.Column("latest_version", sa.Integer(), nullable=True),  # None until first deploy
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_workflows_org_created", "organization_id", "created_at"),
)

workflow_versions = sa.Table(
    "workflow_versions",
    metadata,
    sa.Column("workflow_id", sa.ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("definition", sa.JSON(), nullable=False),  # immutable snapshot
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("agent_version", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("turn", sa.Integer(), nullable=False),
    sa.Column("input", sa.JSON(), nullable=False),
    sa.Column("request", sa.JSON(), nullable=False),  # echoed request fields (source, title, ...)
    # JSON-encoded strings: PostgreSQL text cannot hold NUL, which user code may well return
    sa.Column("result", sa.JSON(), nullable=True),
    sa.Column("status_reason", sa.String(64), nullable=True),
    sa.Column("status_message", sa.JSON(), nullable=True),
    sa.Column("last_executed_node_id", sa.String(64), nullable=True),
    sa.Column("is_manually_stopped", sa.Boolean(), nullable=False),
    # the queue: a pending row is claimable; `attempt` fences every write a worker makes
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("max_attempts", sa.Integer(), nullable=False),
    # `attempt` never goes down (it fences writes); a turn's attempts count from here
    sa.Column("attempt_base", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("event_seq", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=True),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # the task that started this one (an agent node's sub-task)
    sa.Column("parent_id", sa.String(64), nullable=True),
    # who runs it: `engine` (taskloom's workers) or `sdk` (a user's xpander-sdk worker)
    sa.Column("executor", sa.String(16), nullable=False, server_default="engine"),
    # every turn's model usage, summed
    sa.Column("prompt_tokens", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("completion_tokens", sa.BigInteger(), nullable=False, server_default="0"),
    # model calls whose provider reported no usage: the counts above leave them out
    sa.Column("unreported_calls", sa.Integer(), nullable=False, server_default="0"),
    # a wait node paused it (when, and what it waits for); kept after the resume until the
    # next turn, so the resumed attempt knows to look for checkpoints
    sa.Column("paused_at", UtcDateTime(), nullable=True),
    sa.Column("hitl_request", sa.JSON(), nullable=True),
    # task lists, newest first, page by page: the order is the whole index key, so a page's
    # ids (and the total) come off the index alone
    sa.Index("ix_tasks_org_created_id", "organization_id", "created_at", "id"),
    sa.Index("ix_tasks_org_agent_created_id", "organization_id", "agent_id", "created_at", "id"),
    sa.Index("ix_tasks_org_status_created_id", "organization_id", "status", "created_at", "id"),
    sa.Index("ix_tasks_parent", "parent_id"),
    sa.Index("ix_tasks_status_created", "status", "created_at"),
    sa.Index("ix_tasks_lease", "lease_owner"),
)

node_runs = sa.Table(
    "node_runs",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("turn", sa.Integer(), nullable=False),
    # where in the walk this run sits: "<step>" or "<step>.<child>", plus the iteration
    sa.Column("step", sa.Text(), nullable=False),
    sa.Column("iteration", sa.Integer(), nullable=False),
    sa.Column("node_id", sa.String(64), nullable=False),
    sa.Column("node_name", sa.Text(), nullable=False),
    sa.Column("node_type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("task_attempt", sa.Integer(), nullable=False),
    sa.Column("retries", sa.Integer(), nullable=False),
    sa.Column("output", sa.JSON(), nullable=True),
    sa.Column("route", sa.String(255), nullable=True),  # a classifier's pick, reused on resume
    sa.Column("error", sa.JSON(), nullable=True),  # JSON-encoded string, as tasks.result
    sa.Column("prompt_tokens", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("completion_tokens", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("unreported_calls", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=False),
    sa.Index("ix_node_runs_task", "task_id", "turn"),
)

# One row per pause of a wait node: what it waits for, its deadline (a durable timer: the
# sweep of any process fires it, once) and, once made, the decision the node's run returns.
waits = sa.Table(
    "waits",
    metadata,
    sa.Column("task_id", sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.Text(), primary_key=True),  # the wait node run's idempotency key
    sa.Column("turn", sa.Integer(), nullable=False),
    sa.Column("node_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # hitl | webhook | schedule
    sa.Column("request", sa.JSON(), nullable=False),  # the task's hitl_request while it waits
    sa.Column("on_timeout", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("due_at", UtcDateTime(), nullable=True),
    sa.Column("decision", sa.JSON(), nullable=True),
    sa.Column("decided_at", UtcDateTime(), nullable=True),
    # the approve / deny links sent with its notification: a secret's hash, and its expiry
    sa.Column("link_token_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("link_expires_at", UtcDateTime(), nullable=True),
    # where the paused run goes on from (an agent's conversation before a tool approval)
    sa.Column("state", sa.JSON(), nullable=True),
    sa.Index(
        "ix_waits_due",
        "due_at",
        sqlite_where=sa.text("decided_at IS NULL AND due_at IS NOT NULL"),
        postgresql_where=sa.text("decided_at IS NULL AND due_at IS NOT NULL"),
    ),
)

# A cron schedule that invokes a workflow or agent. `next_fire_at` is the slot it fires next;
# firing advances it with an UPDATE conditional on the slot, so one process fires each slot.
schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("target_id", sa.String(64), nullable=False),  # a workflow's or an agent's id
    sa.Column("name", sa.String(255), nullable=True),
    sa.Column("cron", sa.String(255), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("input", sa.JSON(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=True),  # none: the latest deployed
    sa.Column("catch_up", sa.String(16), nullable=False),  # skip | catch_up_one
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("next_fire_at", UtcDateTime(), nullable=True),
    sa.Column("last_fired_at", UtcDateTime(), nullable=True),
    sa.Column("last_task_id", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_schedules_org", "organization_id", "created_at"),
    sa.Index("ix_schedules_due", "next_fire_at"),
)

# The per-organization signing secret of outbound webhooks (Standard Webhooks `whsec_`); the
# one it replaced keeps signing beside it until `previous_until`, so receivers can switch.
webhook_secrets = sa.Table(
    "webhook_secrets",
    metadata,
    sa.Column("organization_id", sa.String(64), primary_key=True),
    sa.Column("secret", sa.String(128), nullable=False),
    sa.Column("previous_secret", sa.String(128), nullable=True),
    sa.Column("previous_until", UtcDateTime(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("rotated_at", UtcDateTime(), nullable=True),
)

# Notifications to deliver (webhook, email, Slack), at least once, with a stable id
# (`webhook-id`): the durable queue and the delivery log at once. `target` is where it goes
# (a URL, the recipients, a Slack channel); `sealed` holds the channel's credentials (a Slack
# bot token) encrypted under TASKLOOM_SECRET_KEY, never in clear.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("task_id", sa.String(64), nullable=True),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False, server_default="webhook"),
    sa.Column("target", sa.Text(), nullable=False),
    sa.Column("headers", sa.JSON(), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("sealed", sa.Text(), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | failed
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("last_status_code", sa.Integer(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("delivered_at", UtcDateTime(), nullable=True),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_org", "organization_id", "created_at"),
    sa.Index("ix_webhook_deliveries_task", "task_id"),
)

task_turns = sa.Table(
    "task_turns",
    metadata,
    sa.Column("task_id", sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("turn", sa.Integer(), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # `queued` until it becomes the turn
    sa.Column("input", sa.JSON(), nullable=False),
    sa.Column("request", sa.JSON(), nullable=False),
    sa.Column("result", sa.JSON(), nullable=True),  # JSON-encoded string, as tasks.result
    sa.Column("status_reason", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=True),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
)

task_events = sa.Table(
    "task_events",
    metadata,
    sa.Column("task_id", sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True),  # per task, from 1, no gaps
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("data", sa.JSON(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("organization_id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("task_id", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("organization_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("ciphertext", sa.Text(), nullable=False),  # Fernet token of the value
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# Named sets of HTTP operations (imported from OpenAPI or declared by hand) that agents call
# as tools and action nodes call; `spec` holds the base URL, operations and credential refs.
toolkits = sa.Table(
    "toolkits",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=True),  # the API key that created it
    sa.Column("spec", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_toolkits_org_created", "organization_id", "created_at"),
)

# Knowledge bases (`/v1/knowledge`, docs/knowledge.md): named sets of documents an agent searches.
# `embedding_model` is the embedder its vectors came from, fixed by the first document: a
# query must be embedded by the same one.
knowledge_bases = sa.Table(
    "knowledge_bases",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=True),
    sa.Column("embedding_model", sa.String(255), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_knowledge_bases_org", "organization_id", "created_at"),
)

# A document, and the durable queue of its ingestion at once: a `pending` row is claimable,
# a claim leases it (`lease_owner`, `lease_expires_at`); its chunks are written with the
# `ready` status in one transaction, so a crash mid-ingest leaves it pending, never half done.
knowledge_documents = sa.Table(
    "knowledge_documents",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "knowledge_base_id",
        sa.ForeignKey("knowledge_bases.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("document_url", sa.Text(), nullable=True),
    sa.Column("content_type", sa.String(255), nullable=True),
    sa.Column("content", sa.LargeBinary(), nullable=True),  # an upload's bytes, until ingested
    sa.Column("status", sa.String(16), nullable=False),  # pending | ready | failed
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
    sa.Column("chunk_count", sa.Integer(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("processed_at", UtcDateTime(), nullable=True),
    sa.Index("ix_knowledge_documents_kb", "knowledge_base_id", "created_at"),
    sa.Index("ix_knowledge_documents_queue", "status", "lease_expires_at"),
)

# Chunks: the text searched. Their full-text index (FTS5 on SQLite; on PostgreSQL a generated
# `tsv` column, not declared here since nothing writes it, and its GIN index) is made by
# migration 0010; their vectors live in a table per store made at run
# time (knowledge/index_*.py), since the dimension is the embedder's.
knowledge_chunks = sa.Table(
    "knowledge_chunks",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "document_id",
        sa.ForeignKey("knowledge_documents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("knowledge_base_id", sa.String(64), nullable=False),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),  # its place in the document, from 0
    sa.Column("heading", sa.Text(), nullable=False),  # the section it sits in, "" if none
    sa.Column("content", sa.Text(), nullable=False),
    sa.Index("ix_knowledge_chunks_kb", "knowledge_base_id"),
    sa.Index("ix_knowledge_chunks_document", "document_id", "seq"),
)
