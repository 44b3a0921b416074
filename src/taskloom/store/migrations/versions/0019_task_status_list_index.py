"""Task lists narrowed by status read pages off an index: (organization, status, created_at,
id). Without it, `?status=paused` walked the organization's whole list checking each row's
status (230 ms at 100,000 tasks on SQLite, every time the web UI counted its inbox).

Revision ID: 0019
Revises: 0013
Create Date: 2026-12-05 22:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.create_index(
            "ix_tasks_org_status_created_id", ["organization_id", "status", "created_at", "id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index("ix_tasks_org_status_created_id")
