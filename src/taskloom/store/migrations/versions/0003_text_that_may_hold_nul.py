"""Results, messages and errors as JSON strings; node names without a length cap.

PostgreSQL text columns cannot hold NUL, which user code may return or raise with; a JSON
string can (as the \\u0000 escape).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TO_JSON = [
    ("tasks", "result"),
    ("tasks", "status_message"),
    ("task_turns", "result"),
    ("node_runs", "error"),
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column in _TO_JSON:
        if sqlite:
            # existing text becomes a JSON string literal
            op.execute(
                f"UPDATE {table} SET {column} = json_quote({column}) WHERE {column} IS NOT NULL"
            )
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column,
                type_=sa.JSON(),
                existing_nullable=True,
                postgresql_using=f"to_json({column})",
            )
    with op.batch_alter_table("node_runs") as batch:
        batch.alter_column("node_name", type_=sa.Text(), existing_nullable=False)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("node_runs") as batch:
        batch.alter_column("node_name", type_=sa.String(255), existing_nullable=False)
    for table, column in _TO_JSON:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column,
                type_=sa.Text(),
                existing_nullable=True,
                postgresql_using=f"({column} #>> '{{}}')",
            )
        if sqlite:
            op.execute(
                f"UPDATE {table} SET {column} = json_extract({column}, '$') "
                f"WHERE {column} IS NOT NULL"
            )
