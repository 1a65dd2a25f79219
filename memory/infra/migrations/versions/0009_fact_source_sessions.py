"""The session each fact source came from, kept beside the message id: raw messages are
deleted by retention, and "which facts came out of this session" should outlive them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 04:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("fact_sources", sa.Column("session_id", sa.Uuid(), nullable=True))
    op.execute("""
        UPDATE fact_sources s SET session_id = m.session_id FROM messages m
        WHERE m.tenant_id = s.tenant_id AND m.user_id = s.user_id AND m.id = s.message_id
    """)
    op.create_index(
        "ix_fact_sources_session", "fact_sources", ["tenant_id", "user_id", "session_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_fact_sources_session", table_name="fact_sources")
    op.drop_column("fact_sources", "session_id")
