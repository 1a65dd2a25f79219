"""The SQL of hybrid recall, as named and commented statements: per tier, the table's text,
time, importance and provenance columns; one ranking statement that gathers candidates
from pgvector cosine and BM25 (with the session neighbours' BM25 for raw messages); and the
per-transaction settings of the HNSW scan. `memory.stores.recall` runs them."""

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import TextClause, text

from memory.core.domain import Tier


@dataclass(frozen=True)
class _TierSql:
    """How one tier's table answers recall: its text, time and importance columns, what
    "current" and "as of" mean for it, and the provenance it can give."""

    table: str
    body: str
    at: str
    importance: str  # an expression; tiers without importance use the default
    current: str
    as_of: str
    provenance: str
    neighbours: bool = False  # rows of a session in order: (session_id, seq)


_TIERS: dict[Tier, _TierSql] = {
    Tier.RAW: _TierSql(
        table="messages",
        body="content",
        at="created_at",
        importance="CAST(:default_importance AS float8)",
        current="TRUE",
        as_of="created_at <= :as_of",
        provenance="ARRAY[r.id] AS message_ids, ARRAY[]::uuid[] AS fact_ids, "
        "r.session_id AS session_id, NULL::text AS kind, r.key_id AS key_id",
        neighbours=True,
    ),
    Tier.FACTS: _TierSql(
        table="facts",
        body="text",
        at="valid_from",
        importance="importance",
        current="valid_to IS NULL",
        as_of="valid_from <= :as_of AND (valid_to IS NULL OR valid_to > :as_of)",
        provenance="ARRAY(SELECT s.message_id FROM fact_sources s WHERE s.fact_id = r.id "
        "ORDER BY s.message_id) AS message_ids, ARRAY[r.id] AS fact_ids, "
        "NULL::uuid AS session_id, r.kind AS kind, NULL::text AS key_id",
    ),
    Tier.KNOWLEDGE: _TierSql(
        table="knowledge",
        body="text",
        at="created_at",
        importance="importance",
        current="retired_at IS NULL",
        as_of="created_at <= :as_of AND (retired_at IS NULL OR retired_at > :as_of)",
        provenance="ARRAY(SELECT DISTINCT fs.message_id FROM knowledge_sources ks "
        "JOIN fact_sources fs ON fs.fact_id = ks.fact_id WHERE ks.knowledge_id = r.id "
        "ORDER BY fs.message_id) AS message_ids, "
        "ARRAY(SELECT ks.fact_id FROM knowledge_sources ks WHERE ks.knowledge_id = r.id "
        "ORDER BY ks.fact_id) AS fact_ids, NULL::uuid AS session_id, NULL::text AS kind, "
        "NULL::text AS key_id",
    ),
    Tier.SUMMARIES: _TierSql(
        table="session_summaries",
        body="text",
        at="ended_at",
        importance="CAST(:default_importance AS float8)",
        current="TRUE",
        as_of="created_at <= :as_of",
        provenance="r.message_ids AS message_ids, ARRAY[]::uuid[] AS fact_ids, "
        "r.session_id AS session_id, NULL::text AS kind, NULL::text AS key_id",
    ),
}

# Per transaction: keep scanning the HNSW graph until the user filter leaves enough rows;
# relaxed order is fine because the candidates are re-ranked by distance below.
SET_SCAN = (
    text("SET LOCAL hnsw.iterative_scan = relaxed_order"),
    text("SELECT set_config('hnsw.ef_search', :ef_search, true)"),
)
# An exact scan: no index scans in this transaction, so the HNSW graph is never walked
# (bitmap scans, which HNSW does not offer, still narrow the rows to the user's).
EXACT_SCAN = text("SET LOCAL enable_indexscan = off")

# BM25 (k1, b) with the collection statistics of this user's rows in this tier: the number
# of rows, their mean length in lexemes and, per query lexeme, how many rows hold it. The
# rows holding any query lexeme are found once (`matched`); the document frequencies are
# counted from them, since a row holds a query lexeme exactly when it is matched for it.
# (A per-lexeme count would scan the user's rows once per lexeme under row-level security,
# which keeps the non-leakproof `@@` from using the GIN index.)
_RANKED = """
WITH stats AS MATERIALIZED (
    SELECT count(*) AS n, greatest(coalesce(avg(length(tsv)), 1), 1)::float8 AS avgdl
    FROM {table} WHERE {filters}
), asked AS MATERIALIZED (
    SELECT DISTINCT lexeme AS term FROM unnest(to_tsvector('english', :query))
), matched AS MATERIALIZED (
    SELECT id, {lex_columns} tsv FROM {table}
    WHERE {filters}{unsaid}
      AND tsv @@ (SELECT coalesce(string_agg(quote_literal(term), ' | '), '')::tsquery
                  FROM asked)
), hits AS MATERIALIZED (
    SELECT m.id, u.lexeme AS term, coalesce(array_length(u.positions, 1), 1) AS tf
    FROM matched m CROSS JOIN LATERAL unnest(m.tsv) AS u
    WHERE u.lexeme IN (SELECT term FROM asked)
), terms AS MATERIALIZED (
    SELECT h.term, ln(1 + (s.n - count(*) + 0.5) / (count(*) + 0.5))::float8 AS idf
    FROM hits h CROSS JOIN stats s
    GROUP BY h.term, s.n
), lex AS MATERIALIZED (
    SELECT r.id, {lex_columns}
           sum(t.idf * h.tf * (:k1 + 1)
               / (h.tf + :k1 * (1 - :b + :b * length(r.tsv) / s.avgdl)))::float8 AS score
    FROM matched r
    JOIN hits h ON h.id = r.id
    JOIN terms t ON t.term = h.term
    CROSS JOIN stats s
    GROUP BY r.id, {lex_columns} s.avgdl
    ORDER BY score DESC, r.id LIMIT :candidates
), lex_ranked AS (
    SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS rank FROM lex
), vec AS MATERIALIZED (
    SELECT id, embedding <=> CAST(:qvec AS vector) AS dist FROM {table}
    WHERE {filters}{unsaid} AND embedding IS NOT NULL AND CAST(:qvec AS vector) IS NOT NULL
    ORDER BY dist LIMIT :candidates
), vec_ranked AS (
    SELECT id, row_number() OVER (ORDER BY dist, id) AS rank FROM vec
), context AS ({context}
), pool AS (
    SELECT id FROM lex UNION SELECT id FROM vec UNION SELECT id FROM context
)
SELECT p.id, v.rank AS vector_rank,
       CASE WHEN r.embedding IS NULL OR CAST(:qvec AS vector) IS NULL THEN NULL
            ELSE 1 - (r.embedding <=> CAST(:qvec AS vector)) END AS cosine,
       l.rank AS text_rank, l.score AS text_score, c.score AS context_score,
       r.{body} AS body, r.{at} AS at, {importance} AS importance, {provenance}
FROM pool p
JOIN {table} r ON r.id = p.id
LEFT JOIN vec_ranked v ON v.id = p.id
LEFT JOIN lex_ranked l ON l.id = p.id
LEFT JOIN context c ON c.id = p.id
"""

# The raw tier: a message earns the BM25 of the messages just before and after it in its
# session, so an answer is found through the question it answers, and the reverse.
_NEIGHBOURS = """
    SELECT m.id, sum(l.score)::float8 AS score
    FROM lex l
    JOIN (SELECT id, session_id, seq FROM {table} WHERE {filters}) AS m
      ON m.session_id = l.session_id AND m.seq IN (l.seq - 1, l.seq + 1)
    GROUP BY m.id"""
_NO_NEIGHBOURS = """
    SELECT NULL::uuid AS id, NULL::float8 AS score WHERE FALSE"""

# With the raw tier asked too: an observation says again what a message says, so while any
# of its messages is still kept, the message speaks for it (it has the context); once
# retention has deleted them, the observation is what is left of them.
_UNSAID = """
      AND NOT (restates AND EXISTS (
          SELECT 1 FROM fact_sources s JOIN messages m
            ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id AND m.id = s.message_id
          WHERE s.fact_id = facts.id))"""


# Targeting one thread, metadata of the messages, or metadata of the sessions. A session's
# thread and metadata outlive its messages, and a fact source keeps its message's session
# and metadata, so the derived tiers answer these filters after retention too. A memory
# matches when one of its sources does; a fact added by hand (no source) belongs to every
# thread but carries no message metadata. A summary tells a whole session, so a filter on
# message metadata leaves it out.
_IN_SESSIONS = (
    "(SELECT s.id FROM sessions s WHERE s.tenant_id = :tenant_id AND s.user_id = :user_id"
    " AND {match})"
)
_THREAD = "s.thread = :thread"
_SESSION_METADATA = "s.metadata @> CAST(:session_metadata AS jsonb)"
_FACT_FROM = (
    "EXISTS (SELECT 1 FROM fact_sources fs WHERE fs.tenant_id = :tenant_id"
    " AND fs.user_id = :user_id AND fs.fact_id = {fact_id} AND {match})"
)
_KNOWLEDGE_FROM = (
    "EXISTS (SELECT 1 FROM knowledge_sources ks JOIN fact_sources fs"
    " ON fs.tenant_id = ks.tenant_id AND fs.user_id = ks.user_id AND fs.fact_id = ks.fact_id"
    " WHERE ks.tenant_id = :tenant_id AND ks.user_id = :user_id"
    " AND ks.knowledge_id = knowledge.id AND {match})"
)
_NO_SOURCE = (
    "NOT EXISTS (SELECT 1 FROM fact_sources fs WHERE fs.tenant_id = :tenant_id"
    " AND fs.user_id = :user_id AND fs.fact_id = {fact_id})"
)
_SOURCE_METADATA = "fs.metadata @> CAST(:metadata AS jsonb)"


def _session_filter(tier: Tier, match: str, *, handmade_too: bool, fact_id: str) -> str:
    """Rows of `tier` from a session that matches (`match` on `sessions s`)."""
    sessions = _IN_SESSIONS.format(match=match)
    if tier in (Tier.RAW, Tier.SUMMARIES):
        return f"session_id IN {sessions}"
    source = f"fs.session_id IN {sessions}"
    if tier is Tier.FACTS:
        found = _FACT_FROM.format(fact_id=fact_id, match=source)
        return f"({found} OR {_NO_SOURCE.format(fact_id=fact_id)})" if handmade_too else found
    return _KNOWLEDGE_FROM.format(match=source)


def _metadata_filter(tier: Tier, fact_id: str) -> str:
    """Rows of `tier` from a message whose metadata contains `:metadata`."""
    if tier is Tier.RAW:
        return "metadata @> CAST(:metadata AS jsonb)"
    if tier is Tier.FACTS:
        return _FACT_FROM.format(fact_id=fact_id, match=_SOURCE_METADATA)
    if tier is Tier.KNOWLEDGE:
        return _KNOWLEDGE_FROM.format(match=_SOURCE_METADATA)
    return "FALSE"


@dataclass(frozen=True)
class Targets:
    """Which of the caller's labels a recall is narrowed to (each None: not narrowed)."""

    thread: bool = False
    metadata: bool = False
    session_metadata: bool = False

    def filters(self, tier: Tier, fact_id: str = "facts.id") -> list[str]:
        """The conditions on `tier`'s rows (a fact's id is `fact_id` in the statement)."""
        found = []
        if self.thread:
            found.append(_session_filter(tier, _THREAD, handmade_too=True, fact_id=fact_id))
        if self.session_metadata:
            found.append(
                _session_filter(tier, _SESSION_METADATA, handmade_too=False, fact_id=fact_id)
            )
        if self.metadata:
            found.append(_metadata_filter(tier, fact_id))
        return found


@lru_cache(maxsize=256)
def ranked_sql(
    tier: Tier,
    *,
    as_of: bool,
    since: bool,
    until: bool,
    kinds: bool,
    with_raw: bool = False,
    targets: Targets = Targets(),
) -> TextClause:
    """The tier's ranking statement with only the filters in use, so that no generic plan
    has to cope with `:x IS NULL OR ...` branches."""
    spec = _TIERS[tier]
    filters = [
        "tenant_id = :tenant_id",
        "user_id = :user_id",
        spec.as_of if as_of else spec.current,
    ]
    if since:
        filters.append(f"{spec.at} >= :since")
    if until:
        filters.append(f"{spec.at} < :until")
    if kinds and tier is Tier.FACTS:
        filters.append("kind = ANY(:kinds)")
    filters += targets.filters(tier)
    where = " AND ".join(filters)
    neighbours = spec.neighbours
    return text(
        _RANKED.format(
            table=spec.table,
            filters=where,
            unsaid=_UNSAID if with_raw and tier is Tier.FACTS else "",
            lex_columns="session_id, seq," if neighbours else "",
            context=(_NEIGHBOURS if neighbours else _NO_NEIGHBOURS).format(
                table=spec.table, filters=where
            ),
            body=spec.body,
            at=spec.at,
            importance=spec.importance,
            provenance=spec.provenance,
        )
    )
