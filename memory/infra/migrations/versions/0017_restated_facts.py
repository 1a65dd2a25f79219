"""A fact that restates its source message sentence by sentence (an observation, or a
statement the extractor typed by its cues) says so, so recall lets the message speak for it
while the message is kept, and offline synthesis builds only on what the patterns read.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "facts",
        sa.Column("restates", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )
    op.execute("UPDATE facts SET restates = true WHERE kind = 'observation'")


def downgrade() -> None:
    op.drop_column("facts", "restates")
