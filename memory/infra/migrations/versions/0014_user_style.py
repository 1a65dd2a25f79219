"""How each user talks — message length, formality, technical level, recent tone, what they
ask about most — kept on the user's row as long-term state.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("style", JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "style")
