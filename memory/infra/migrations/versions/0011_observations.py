"""Observations: a fact kind for every informative statement of either speaker, the memory
that outlives the raw transcript (which retention deletes).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TYPED = ("preference", "profile", "relation", "event", "decision", "plan", "open_question")


def _kinds(kinds: tuple[str, ...]) -> None:
    op.drop_constraint("ck_facts_kind", "facts", type_="check")
    op.create_check_constraint("ck_facts_kind", "facts", f"kind IN {kinds}")


def upgrade() -> None:
    _kinds((*_TYPED, "observation"))


def downgrade() -> None:
    op.execute("DELETE FROM facts WHERE kind = 'observation'")
    _kinds(_TYPED)
