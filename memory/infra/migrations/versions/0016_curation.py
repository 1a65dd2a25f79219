"""Memories looked after by hand: a fact can be pinned (always in the profile), and a run of
the ledger says who made a change by hand and to what.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "facts",
        sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )
    op.add_column("runs", sa.Column("actor", sa.Text(), nullable=True))
    op.add_column("runs", sa.Column("subject_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "subject_id")
    op.drop_column("runs", "actor")
    op.drop_column("facts", "pinned")
