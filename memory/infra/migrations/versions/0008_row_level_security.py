"""Row-level security on every table that holds a user's data: a row is visible and
writable only in a transaction whose session variables name its tenant and user (or its
tenant, with user `*`), or that declares itself a system job. The stores set them per
transaction (`memory/infra/rls.py`); a query that forgets its WHERE clause still cannot cross.

FORCE makes the policies bind the tables' owner too, which is what a service that
migrates and runs as one ordinary role is. Superusers and BYPASSRLS roles are never bound:
memstrata switches such a login to the unprivileged `memstrata_app` role.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 04:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> the column holding the user id
SCOPED_TABLES = {
    "users": "id",
    "sessions": "user_id",
    "messages": "user_id",
    "facts": "user_id",
    "fact_sources": "user_id",
    "knowledge": "user_id",
    "knowledge_sources": "user_id",
    "session_summaries": "user_id",
    "journal_entries": "user_id",
    "session_cache": "user_id",
    "runs": "user_id",
}


def _visible(user_column: str) -> str:
    # Each setting in a scalar subquery: read once per statement, not once per row.
    def setting(name: str) -> str:
        return f"(SELECT current_setting('memstrata.{name}', true))"

    return (
        f"{setting('system')} = 'on' OR (tenant_id = {setting('tenant_id')} AND "
        f"({user_column} = {setting('user_id')} OR {setting('user_id')} = '*'))"
    )


def upgrade() -> None:
    for table, user_column in SCOPED_TABLES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        condition = _visible(user_column)
        op.execute(f"CREATE POLICY scoped ON {table} USING ({condition}) WITH CHECK ({condition})")


def downgrade() -> None:
    for table in SCOPED_TABLES:
        op.execute(f"DROP POLICY scoped ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
