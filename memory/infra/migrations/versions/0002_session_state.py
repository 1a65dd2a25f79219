"""Session state: device, durable status, context and version on sessions; a device per
message; per-tenant lifecycle overrides; the Postgres hot-state table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 23:20:13.358886
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_cache",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id", "session_id"],
            ["sessions.tenant_id", "sessions.user_id", "sessions.id"],
            name="fk_session_cache_session",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index("ix_session_cache_expires", "session_cache", ["expires_at"], unique=False)
    op.add_column("messages", sa.Column("device_id", sa.Text(), nullable=True))
    op.add_column("sessions", sa.Column("device_id", sa.Text(), nullable=True))
    op.add_column(
        "sessions",
        sa.Column("status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
    )
    op.add_column(
        "sessions",
        sa.Column(
            "context",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "sessions", sa.Column("version", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.create_index(
        "ix_sessions_status_last_active", "sessions", ["status", "last_active_at"], unique=False
    )
    op.create_check_constraint(
        "ck_sessions_status",
        "sessions",
        "status IN ('active', 'soft_expired', 'hard_expired', 'archived')",
    )
    op.add_column(
        "tenants", sa.Column("lifecycle", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("tenants", "lifecycle")
    op.drop_constraint("ck_sessions_status", "sessions", type_="check")
    op.drop_index("ix_sessions_status_last_active", table_name="sessions")
    op.drop_column("sessions", "version")
    op.drop_column("sessions", "context")
    op.drop_column("sessions", "status")
    op.drop_column("sessions", "device_id")
    op.drop_column("messages", "device_id")
    op.drop_index("ix_session_cache_expires", table_name="session_cache")
    op.drop_table("session_cache")
