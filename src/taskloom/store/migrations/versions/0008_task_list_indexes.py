"""Task lists read pages off an index: (organization, created_at, id) replaces
(organization, created_at), and one per workflow or agent (organization, agent_id, ...).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 19:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index("ix_tasks_org_created")
        batch.create_index("ix_tasks_org_created_id", ["organization_id", "created_at", "id"])
        batch.create_index(
            "ix_tasks_org_agent_created_id", ["organization_id", "agent_id", "created_at", "id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index("ix_tasks_org_agent_created_id")
        batch.drop_index("ix_tasks_org_created_id")
        batch.create_index("ix_tasks_org_created", ["organization_id", "created_at"])
