"""A session summary names the messages its text retells, so recall can say which turns a
summary covers (and the ids outlive the messages, as fact sources do).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "session_summaries",
        sa.Column(
            "message_ids",
            ARRAY(sa.Uuid()),
            nullable=False,
            server_default=sa.text("'{}'::uuid[]"),
        ),
    )


def downgrade() -> None:
    op.drop_column("session_summaries", "message_ids")
