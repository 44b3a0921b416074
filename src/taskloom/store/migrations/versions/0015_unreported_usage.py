"""Model calls whose provider reported no usage, counted apart on tasks and node runs, so that
a token count never passes off a part of the usage as the whole.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-05 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("tasks", "node_runs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("unreported_calls", sa.Integer(), nullable=False, server_default="0")
            )


def downgrade() -> None:
    for table in ("node_runs", "tasks"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("unreported_calls")
