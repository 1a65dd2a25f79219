"""Hardening against hostile tenants:

- session ids belong to their user: the primary key of `sessions` (and of `session_cache`)
  becomes (tenant_id, user_id, id), so one tenant cannot squat an id another will use, nor
  learn that it exists;
- every user row has an `incarnation`, new each time the user is created, so a job that
  started before a forget cannot write into the user who comes back after it;
- a session says why it ended when it was not idleness (`ended_reason`, e.g. its durable
  state could not be read).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHILDREN = {
    "messages": "fk_messages_session",
    "session_summaries": "fk_session_summaries_session",
    "session_cache": "fk_session_cache_session",
}
_SCOPE = ["tenant_id", "user_id"]


def _session_keys(scoped: bool) -> None:
    for table, name in _CHILDREN.items():
        op.drop_constraint(name, table, type_="foreignkey")
    if scoped:
        op.drop_constraint("uq_sessions_scope_id", "sessions", type_="unique")
        op.drop_constraint("sessions_pkey", "sessions", type_="primary")
        op.create_primary_key("sessions_pkey", "sessions", [*_SCOPE, "id"])
        op.drop_constraint("session_cache_pkey", "session_cache", type_="primary")
        op.create_primary_key("session_cache_pkey", "session_cache", [*_SCOPE, "session_id"])
    else:
        op.drop_constraint("session_cache_pkey", "session_cache", type_="primary")
        op.create_primary_key("session_cache_pkey", "session_cache", ["session_id"])
        op.drop_constraint("sessions_pkey", "sessions", type_="primary")
        op.create_primary_key("sessions_pkey", "sessions", ["id"])
        op.create_unique_constraint("uq_sessions_scope_id", "sessions", [*_SCOPE, "id"])
    for table, name in _CHILDREN.items():
        op.create_foreign_key(
            name,
            table,
            "sessions",
            [*_SCOPE, "session_id"],
            [*_SCOPE, "id"],
            ondelete="CASCADE",
        )


def upgrade() -> None:
    _session_keys(scoped=True)
    op.add_column(
        "users",
        sa.Column(
            "incarnation", sa.Uuid(), nullable=False, server_default=sa.text("gen_random_uuid()")
        ),
    )
    op.add_column("sessions", sa.Column("ended_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("sessions", "ended_reason")
    op.drop_column("users", "incarnation")
    _session_keys(scoped=False)
