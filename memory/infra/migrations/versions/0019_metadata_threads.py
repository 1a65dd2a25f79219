"""Free-form metadata on users, sessions and messages, and conversation threads.

A session belongs to one thread of its user ("main" unless the client names another);
recall and resume can target one thread. Each fact source keeps the metadata its message
had, as it keeps the message's session: retention deletes the message, and a filter on
message metadata must still find the facts made of it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_METADATA_TABLES = ("users", "sessions", "messages", "fact_sources")


def upgrade() -> None:
    for table in _METADATA_TABLES:
        op.add_column(
            table,
            sa.Column("metadata", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        )
    op.add_column(
        "sessions",
        sa.Column("thread", sa.Text(), nullable=False, server_default=sa.text("'main'")),
    )
    op.create_index(
        "ix_sessions_scope_thread_last_active",
        "sessions",
        ["tenant_id", "user_id", "thread", "last_active_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_scope_thread_last_active", table_name="sessions")
    op.drop_column("sessions", "thread")
    for table in _METADATA_TABLES:
        op.drop_column(table, "metadata")
