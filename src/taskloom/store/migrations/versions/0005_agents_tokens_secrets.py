"""Agents beside workflows, token counts, sub-tasks, externally run tasks, named secrets.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflows") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="workflow")
        )
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("executor", sa.String(16), nullable=False, server_default="engine")
        )
        batch.add_column(
            sa.Column("prompt_tokens", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("completion_tokens", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.create_index("ix_tasks_parent", ["parent_id"])
    with op.batch_alter_table("node_runs") as batch:
        batch.add_column(
            sa.Column("prompt_tokens", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("completion_tokens", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "secrets",
        sa.Column("organization_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("secrets")
    with op.batch_alter_table("node_runs") as batch:
        batch.drop_column("completion_tokens")
        batch.drop_column("prompt_tokens")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index("ix_tasks_parent")
        batch.drop_column("completion_tokens")
        batch.drop_column("prompt_tokens")
        batch.drop_column("executor")
        batch.drop_column("parent_id")
    with op.batch_alter_table("workflows") as batch:
        batch.drop_column("kind")
