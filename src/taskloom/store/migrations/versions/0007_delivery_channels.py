"""Notification deliveries by channel: webhook, email or Slack, each with its target, and the
channel's credentials sealed (encrypted) rather than in clear.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(16), nullable=False, server_default="webhook")
        )
        batch.alter_column("url", new_column_name="target", existing_type=sa.Text())
        batch.add_column(sa.Column("sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM webhook_deliveries WHERE channel <> 'webhook'"))
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("sealed")
        batch.alter_column("target", new_column_name="url", existing_type=sa.Text())
        batch.drop_column("channel")
