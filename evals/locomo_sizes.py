"""LoCoMo: the stored size of every tier when the questions are asked, and what the worker
did (jobs, LLM calls, tokens)."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from evals.locomo_data import Conversation
from memory.core.domain import Scope
from memory.infra.rls import TenantWide, transaction
from service.container import Container

TENANT = "locomo"

# --- the stored size of the tiers ----------------------------------------------------------

# Rows and characters one user keeps in each tier: what is stored, so superseded facts and
# every version of an insight count (recall reads only the current ones). The journal is
# one document rewritten per session: its latest version is what a reader gets, all of its
# versions are what the table holds.
_SIZES = text("""
SELECT 'raw_kept', count(*), coalesce(sum(length(content)), 0)
  FROM messages WHERE tenant_id = :t AND user_id = :u
UNION ALL SELECT 'facts', count(*), coalesce(sum(length(text)), 0)
  FROM facts WHERE tenant_id = :t AND user_id = :u
UNION ALL SELECT 'knowledge', count(*), coalesce(sum(length(text)), 0)
  FROM knowledge WHERE tenant_id = :t AND user_id = :u
UNION ALL SELECT 'session_summaries', count(*), coalesce(sum(length(text)), 0)
  FROM session_summaries WHERE tenant_id = :t AND user_id = :u
UNION ALL SELECT 'journal_latest', count(*), coalesce(sum(length(content)), 0)
  FROM (SELECT content FROM journal_entries WHERE tenant_id = :t AND user_id = :u
        ORDER BY version DESC LIMIT 1) AS latest
UNION ALL SELECT 'journal_all_versions', count(*), coalesce(sum(length(content)), 0)
  FROM journal_entries WHERE tenant_id = :t AND user_id = :u
""")
TIERS = {
    "raw_kept": "raw transcript kept",
    "facts": "facts",
    "knowledge": "knowledge",
    "session_summaries": "session summaries",
    "journal_latest": "journal, latest version",
    "journal_all_versions": "journal, all versions",
}
# The long-term memory once the raw transcript is gone (the journal as its reader sees it).
DERIVED = ("facts", "knowledge", "session_summaries", "journal_latest")
# What the worker did, per job and outcome, with what its LLM calls cost.
_JOBS = text("""
SELECT kind, status, count(*), coalesce(sum(llm_calls), 0),
       coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0)
FROM runs WHERE tenant_id = :t GROUP BY kind, status ORDER BY kind, status
""")


@dataclass
class Sizes:
    """Characters (and rows) per tier, summed over the conversations, each measured when
    its questions are asked; the raw transcript also as it was ingested."""

    ingested_messages: int = 0
    ingested_chars: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    chars: Counter[str] = field(default_factory=Counter)

    @property
    def derived_chars(self) -> int:
        return sum(self.chars[tier] for tier in DERIVED)

    @property
    def derived_ratio(self) -> float:
        return self.derived_chars / max(self.ingested_chars, 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "raw_ingested": {"rows": self.ingested_messages, "chars": self.ingested_chars},
            **{t: {"rows": self.rows[t], "chars": self.chars[t]} for t in TIERS},
            "derived_chars": self.derived_chars,
            "derived_tiers": list(DERIVED),
            "derived_per_raw_ingested": round(self.derived_ratio, 4),
        }


async def measure(app: Container, scope: Scope, conv: Conversation, sizes: Sizes) -> None:
    """Add what `scope` stores now, and what its conversation ingested, to `sizes`."""
    sizes.ingested_messages += len(conv.turns)
    sizes.ingested_chars += sum(len(turn.content) for turn in conv.turns)
    async with transaction(app.database.engine, scope) as conn:
        params = {"t": scope.tenant_id, "u": scope.user_id}
        for tier, rows, chars in (await conn.execute(_SIZES, params)).all():
            sizes.rows[tier] += int(rows)
            sizes.chars[tier] += int(chars)


async def jobs(app: Container) -> dict[str, dict[str, int]]:
    async with transaction(app.database.engine, TenantWide(TENANT)) as conn:
        rows = (await conn.execute(_JOBS, {"t": TENANT})).all()
    return {
        f"{kind} {status}": {"runs": n, "llm_calls": calls, "input_tokens": i, "output_tokens": o}
        for kind, status, n, calls, i, o in rows
    }
