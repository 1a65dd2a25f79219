"""The journal as data: each version keeps its sections (what is current, one section per
session, the condensed older sessions, free notes) beside the Markdown rendered from them,
so that tiers hand each other sections and nobody parses Markdown back. Existing versions
are read into sections once, here.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 23:30:00
"""

import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DATED = re.compile(r"^(\d{4}-\d{2}-\d{2}) — ")


def _sections(content: str, session_id: object) -> list[dict[str, Any]]:
    """The journal layout written before this revision: "# Journal", "## Now" with items,
    "## <date> — <topics>" sections with a body, "## Earlier" with items."""
    sections: list[dict[str, Any]] = []
    for part in content.split("\n## ")[1:]:
        title, _, rest = part.partition("\n")
        lines = [line for line in rest.splitlines() if line.strip()]
        items = [line[2:] for line in lines if line.startswith("- ")]
        if title == "Now":
            sections.append({"kind": "now", "title": "", "body": "", "items": items})
        elif title == "Earlier":
            sections.append({"kind": "earlier", "title": "", "body": "", "items": items})
        else:
            dated = _DATED.match(title)
            body = "\n".join(line for line in lines if not line.startswith("- "))
            sections.append(
                {
                    "kind": "session" if dated else "note",
                    "title": title,
                    "body": body,
                    "items": [],
                    "session_id": None,
                    "on": dated.group(1) if dated else None,
                }
            )
    if not sections and content.strip():
        sections.append({"kind": "note", "title": "", "body": content.strip(), "items": []})
    if sections and session_id is not None:
        newest = next((s for s in sections if s["kind"] == "session"), None)
        if newest is not None:
            newest["session_id"] = str(session_id)
    return sections


def upgrade() -> None:
    op.add_column(
        "journal_entries",
        sa.Column("sections", JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, content, session_id FROM journal_entries")).all()
    for row in rows:
        bind.execute(
            sa.text("UPDATE journal_entries SET sections = CAST(:s AS jsonb) WHERE id = :id"),
            {"s": json.dumps(_sections(row.content, row.session_id)), "id": row.id},
        )


def downgrade() -> None:
    op.drop_column("journal_entries", "sections")
