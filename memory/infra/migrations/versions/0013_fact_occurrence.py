"""When a plan or an event takes place, as data (not only in the fact's words): a plan is a
live open loop until then and past afterwards.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 23:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("facts", sa.Column("occurs_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("facts", "occurs_at")
