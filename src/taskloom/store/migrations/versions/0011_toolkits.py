"""Toolkits: named sets of HTTP operations agents and action nodes call.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "toolkits",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_toolkits"),
    )
    op.create_index("ix_toolkits_org_created", "toolkits", ["organization_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_toolkits_org_created", table_name="toolkits")
    op.drop_table("toolkits")
