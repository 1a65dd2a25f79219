"""Reflection: fact attribute and confidence, the extraction watermark, one journal version
per session, and the run ledger's token and prompt columns.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 23:31:30.206013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "facts", sa.Column("confidence", sa.Float(), server_default=sa.text("1.0"), nullable=False)
    )
    op.add_column("facts", sa.Column("attribute", sa.Text(), nullable=True))
    op.create_check_constraint(
        "ck_facts_confidence", "facts", "confidence >= 0 AND confidence <= 1"
    )
    op.create_index(
        "ix_facts_current_attribute",
        "facts",
        ["tenant_id", "user_id", "attribute"],
        unique=False,
        postgresql_where=sa.text("valid_to IS NULL AND attribute IS NOT NULL"),
    )
    op.create_index(
        "uq_journal_entries_session",
        "journal_entries",
        ["tenant_id", "user_id", "session_id"],
        unique=True,
        postgresql_where=sa.text("session_id IS NOT NULL"),
    )
    op.add_column("runs", sa.Column("session_id", sa.Uuid(), nullable=True))
    op.add_column("runs", sa.Column("prompt_version", sa.Text(), nullable=True))
    op.add_column(
        "runs", sa.Column("input_tokens", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column(
        "runs",
        sa.Column("output_tokens", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_index("ix_runs_scope", "runs", ["tenant_id", "user_id", "started_at"], unique=False)
    op.drop_column("runs", "tokens")
    op.add_column(
        "sessions",
        sa.Column("extracted_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("sessions", "extracted_seq")
    op.add_column(
        "runs", sa.Column("tokens", sa.INTEGER(), server_default=sa.text("0"), nullable=False)
    )
    op.drop_index("ix_runs_scope", table_name="runs")
    op.drop_column("runs", "output_tokens")
    op.drop_column("runs", "input_tokens")
    op.drop_column("runs", "prompt_version")
    op.drop_column("runs", "session_id")
    op.drop_index(
        "uq_journal_entries_session",
        table_name="journal_entries",
        postgresql_where=sa.text("session_id IS NOT NULL"),
    )
    op.drop_index(
        "ix_facts_current_attribute",
        table_name="facts",
        postgresql_where=sa.text("valid_to IS NULL AND attribute IS NOT NULL"),
    )
    op.drop_constraint("ck_facts_confidence", "facts", type_="check")
    op.drop_column("facts", "attribute")
    op.drop_column("facts", "confidence")
