"""Encryption at rest of raw messages: the key id of each sealed row, and no full-text
vector for sealed rows (a tsvector is the message's words, sorted).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PLAIN_ONLY = "CASE WHEN key_id IS NULL THEN to_tsvector('english', content) END"


def upgrade() -> None:
    op.add_column("messages", sa.Column("key_id", sa.Text(), nullable=True))
    op.drop_index("ix_messages_tsv", table_name="messages")
    op.drop_column("messages", "tsv")
    op.add_column(
        "messages",
        sa.Column("tsv", postgresql.TSVECTOR(), sa.Computed(_PLAIN_ONLY, persisted=True)),
    )
    op.create_index("ix_messages_tsv", "messages", ["tsv"], postgresql_using="gin")
    # Rotation looks for rows sealed with another key (or none) than the active one.
    op.create_index("ix_messages_key_id", "messages", ["key_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_key_id", table_name="messages")
    op.drop_index("ix_messages_tsv", table_name="messages")
    op.drop_column("messages", "tsv")
    op.add_column(
        "messages",
        sa.Column(
            "tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english', content)", persisted=True),
        ),
    )
    op.create_index("ix_messages_tsv", "messages", ["tsv"], postgresql_using="gin")
    op.drop_column("messages", "key_id")
