"""Knowledge bases: their documents (the ingestion queue too), chunks and full-text indexes.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-05 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_bases",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("embedding_model", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_knowledge_bases_org", "knowledge_bases", ["organization_id", "created_at"])
    op.create_table(
        "knowledge_documents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "knowledge_base_id",
            sa.String(64),
            sa.ForeignKey(
                "knowledge_bases.id",
                ondelete="CASCADE",
                name="fk_knowledge_documents_knowledge_base_id_knowledge_bases",
            ),
            nullable=False,
        ),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("document_url", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(255), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_knowledge_documents_kb", "knowledge_documents", ["knowledge_base_id", "created_at"]
    )
    op.create_index(
        "ix_knowledge_documents_queue", "knowledge_documents", ["status", "lease_expires_at"]
    )
    op.create_table(
        "knowledge_chunks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "document_id",
            sa.String(64),
            sa.ForeignKey(
                "knowledge_documents.id",
                ondelete="CASCADE",
                name="fk_knowledge_chunks_document_id_knowledge_documents",
            ),
            nullable=False,
        ),
        sa.Column("knowledge_base_id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("heading", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
    )
    op.create_index("ix_knowledge_chunks_kb", "knowledge_chunks", ["knowledge_base_id"])
    op.create_index("ix_knowledge_chunks_document", "knowledge_chunks", ["document_id", "seq"])
    if op.get_bind().dialect.name == "sqlite":
        # external-content FTS5 (the text stays in knowledge_chunks), with the knowledge base
        # as a column of its own, so that a search is one MATCH, without a join
        op.execute(
            "CREATE VIRTUAL TABLE knowledge_chunks_fts USING fts5("
            "heading, content, knowledge_base_id, content='knowledge_chunks', content_rowid='id', "
            "tokenize='porter unicode61')"
        )
        op.execute(
            "CREATE TRIGGER knowledge_chunks_fts_insert AFTER INSERT ON knowledge_chunks BEGIN "
            "INSERT INTO knowledge_chunks_fts(rowid, heading, content, knowledge_base_id) "
            "VALUES (new.id, new.heading, new.content, new.knowledge_base_id); END"
        )
        op.execute(
            "CREATE TRIGGER knowledge_chunks_fts_delete AFTER DELETE ON knowledge_chunks BEGIN "
            "INSERT INTO knowledge_chunks_fts"
            "(knowledge_chunks_fts, rowid, heading, content, knowledge_base_id) "
            "VALUES ('delete', old.id, old.heading, old.content, old.knowledge_base_id); END"
        )
    else:
        # stored, not computed per query: ranking reads it for every matching row
        op.execute(
            "ALTER TABLE knowledge_chunks ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
            "(to_tsvector('english', heading || ' ' || content)) STORED"
        )
        op.execute("CREATE INDEX ix_knowledge_chunks_tsv ON knowledge_chunks USING gin (tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS knowledge_chunks_fts")
    op.drop_table("knowledge_chunks")
    op.drop_table("knowledge_documents")
    op.drop_table("knowledge_bases")
