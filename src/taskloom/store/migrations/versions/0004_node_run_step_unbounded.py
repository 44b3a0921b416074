"""Node-run steps without a length cap: nested parallel branches make long step paths.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("node_runs") as batch:
        batch.alter_column("step", type_=sa.Text(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("node_runs") as batch:
        batch.alter_column("step", type_=sa.String(64), existing_nullable=False)
