"""Hybrid recall over the raw, facts, knowledge and summary tiers. Per tier, Postgres gathers
candidates from two rankers: pgvector cosine (HNSW) and BM25 over the full-text vectors,
with document frequencies counted over the user's own rows. In the raw tier a message also
gets the BM25 of its neighbours in the session, because in a conversation the answer often
shares no word with the question it answers ("where did you go?" / "Lisbon, finally").
The candidates of all tiers are pooled, each signal is standardised over the pool (z-score),
and the fused score adds recency and importance. All ranking SQL lives here.

Two pgvector traps are handled on purpose. With a per-user filter an HNSW scan filters its
`ef_search` candidates afterwards and can return fewer than k rows, so each recall sets
`hnsw.iterative_scan` for its transaction (the planner still picks an exact scan for small
users). And `plainto_tsquery` ANDs every word, which finds almost nothing for natural
questions, so the question's lexemes (stemmed, stop words dropped) are ORed: any
informative word can match, and BM25's inverse document frequency decides which matter."""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import RowMapping, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from memory.core import domain
from memory.core.crypto import DISABLED, Cipher
from memory.core.domain import Clock, FactKind, Scope, Tier
from memory.core.errors import InvalidInput
from memory.core.records import Provenance, RecallHit, ScoreParts
from memory.core.settings import RecallSettings
from memory.core.sql import scope_params, vector_literal
from memory.infra.embedder import Embedder
from memory.infra.rls import transaction


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
_SET_SCAN = (
    text("SET LOCAL hnsw.iterative_scan = relaxed_order"),
    text("SELECT set_config('hnsw.ef_search', :ef_search, true)"),
)

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
      AND NOT (kind = 'observation' AND EXISTS (
          SELECT 1 FROM fact_sources s JOIN messages m
            ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id AND m.id = s.message_id
          WHERE s.fact_id = facts.id))"""


@lru_cache(maxsize=64)
def ranked_sql(
    tier: Tier, *, as_of: bool, since: bool, until: bool, kinds: bool, with_raw: bool = False
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


@dataclass(frozen=True)
class RecallQuery:
    """A validated recall request."""

    scope: Scope
    query: str
    k: int
    tiers: frozenset[Tier]
    kinds: tuple[FactKind, ...] | None
    since: datetime | None
    until: datetime | None
    as_of: datetime | None


def _optional_time(value: object, field: str) -> datetime | None:
    return None if value is None else domain.aware(value, field)


def _tiers(tiers: Iterable[Tier | str] | None, kinds: object) -> frozenset[Tier]:
    if tiers is None:  # asking for kinds of fact means asking the facts tier
        return frozenset({Tier.FACTS}) if kinds is not None else frozenset(Tier)
    try:
        chosen = frozenset(Tier(str(t)) for t in tiers)
    except ValueError:
        allowed = ", ".join(t.value for t in Tier)
        raise InvalidInput("tiers", f"unknown tier; expected some of {allowed}") from None
    if not chosen:
        raise InvalidInput("tiers", "must name at least one tier")
    return chosen


class Recall:
    def __init__(
        self,
        engine: AsyncEngine,
        embedder: Embedder | None,
        settings: RecallSettings,
        clock: Clock,
        max_query_chars: int,
        cipher: Cipher = DISABLED,
    ) -> None:
        self._cipher = cipher
        self._engine = engine
        self._embedder = embedder
        self._settings = settings
        self._clock = clock
        self._max_query_chars = max_query_chars

    def validate(
        self,
        scope: Scope,
        query: str,
        k: int,
        *,
        tiers: Iterable[Tier | str] | None = None,
        kinds: Iterable[FactKind | str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        as_of: datetime | None = None,
    ) -> RecallQuery:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 100:
            raise InvalidInput("k", "must be an integer between 1 and 100")
        request = RecallQuery(
            scope=scope,
            query=domain.content(query, "query", self._max_query_chars),
            k=k,
            tiers=_tiers(tiers, kinds),
            kinds=None if kinds is None else tuple(domain.fact_kind(x) for x in kinds),
            since=_optional_time(since, "since"),
            until=_optional_time(until, "until"),
            as_of=_optional_time(as_of, "as_of"),
        )
        if request.since and request.until and request.since >= request.until:
            raise InvalidInput("until", "must be after since")
        return request

    async def recall(
        self,
        scope: Scope,
        query: str,
        k: int = 10,
        *,
        tiers: Iterable[Tier | str] | None = None,
        kinds: Iterable[FactKind | str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        as_of: datetime | None = None,
        query_embedding: Sequence[float] | None = None,
    ) -> list[RecallHit]:
        """The `k` best memories for `query`, each with its tier, score parts and
        provenance. Pass `query_embedding` to skip embedding the query here."""
        request = self.validate(
            scope, query, k, tiers=tiers, kinds=kinds, since=since, until=until, as_of=as_of
        )
        if query_embedding is None and self._embedder is not None:
            query_embedding = (await self._embedder.embed([request.query]))[0]
        return await self.ranked(request, query_embedding)

    async def ranked(
        self, request: RecallQuery, query_embedding: Sequence[float] | None
    ) -> list[RecallHit]:
        params = self._params(request, query_embedding)
        pool: list[tuple[Tier, RowMapping]] = []
        async with transaction(self._engine, request.scope) as conn:
            await conn.execute(_SET_SCAN[0])
            await conn.execute(_SET_SCAN[1], {"ef_search": str(self._settings.hnsw_ef_search)})
            for tier in sorted(request.tiers):
                rows = await self._tier_rows(conn, tier, request, params)
                pool.extend((tier, row) for row in rows)
        hits = self._fuse(pool, request.as_of or self._clock(), request.scope)
        # Equal scores: the newer memory first, so that replays rank the same way every time.
        hits.sort(key=lambda hit: (-hit.score, -hit.at.timestamp(), str(hit.id)))
        return distinct(hits)[: request.k]

    def _params(
        self, request: RecallQuery, query_embedding: Sequence[float] | None
    ) -> dict[str, Any]:
        return {
            **scope_params(request.scope),
            "query": request.query,
            "qvec": vector_literal(query_embedding),
            "candidates": max(self._settings.candidates, request.k),
            "k1": self._settings.bm25_k1,
            "b": self._settings.bm25_b,
            "default_importance": self._settings.default_importance,
            "as_of": request.as_of,
            "since": request.since,
            "until": request.until,
            "kinds": None if request.kinds is None else [k.value for k in request.kinds],
        }

    async def _tier_rows(
        self, conn: AsyncConnection, tier: Tier, request: RecallQuery, params: dict[str, Any]
    ) -> Sequence[RowMapping]:
        sql = ranked_sql(
            tier,
            as_of=request.as_of is not None,
            since=request.since is not None,
            until=request.until is not None,
            kinds=request.kinds is not None,
            with_raw=Tier.RAW in request.tiers,
        )
        return (await conn.execute(sql, params)).mappings().all()

    def _fuse(
        self, pool: Sequence[tuple[Tier, RowMapping]], now: datetime, scope: Scope
    ) -> list[RecallHit]:
        """Score every candidate of every tier on one scale: each signal in standard
        deviations from the pool's mean, so that neither ranker's units dominate."""
        s = self._settings
        cosines = _standardised([row["cosine"] for _, row in pool])
        lexical = _standardised(
            [
                (row["text_score"] or 0.0) + s.context_weight * (row["context_score"] or 0.0)
                for _, row in pool
            ]
        )
        hits = []
        for (tier, row), cosine_z, lexical_z in zip(pool, cosines, lexical, strict=True):
            fused = s.vector_weight * cosine_z + s.lexical_weight * lexical_z
            age_s = max((now - row["at"]).total_seconds(), 0.0)
            recency = math.pow(0.5, age_s / s.recency_half_life_s)
            importance = float(row["importance"])
            hits.append(
                RecallHit(
                    tier=tier,
                    id=row["id"],
                    text=self._cipher.open_message(
                        scope.tenant_id, scope.user_id, row["id"], row["key_id"], row["body"]
                    ),
                    at=row["at"],
                    score=fused + s.recency_weight * recency + s.importance_weight * importance,
                    parts=ScoreParts(
                        vector_rank=row["vector_rank"],
                        cosine=row["cosine"],
                        text_rank=row["text_rank"],
                        text_score=row["text_score"],
                        context_score=row["context_score"],
                        fused=fused,
                        recency=recency,
                        importance=importance,
                    ),
                    provenance=Provenance(
                        message_ids=tuple(row["message_ids"]),
                        fact_ids=tuple(row["fact_ids"]),
                        session_id=row["session_id"],
                    ),
                    kind=None if row["kind"] is None else FactKind(row["kind"]),
                )
            )
        return hits


def distinct(hits: Sequence[RecallHit]) -> list[RecallHit]:
    """The hits, best first, without restatements of what better hits already say: a raw
    message, the observations made of it, a summary or an insight that retells only
    messages already in are left out. Typed facts are always kept (they say it as a fact:
    current, superseded or not)."""
    covered: set[object] = set()
    kept = []
    for hit in hits:
        verbatim = hit.tier is Tier.RAW or hit.kind is FactKind.OBSERVATION
        restates = verbatim or hit.tier in (Tier.SUMMARIES, Tier.KNOWLEDGE)
        sources = set(hit.provenance.message_ids)
        if restates and sources and sources <= covered:
            continue
        if verbatim:  # what a message says in full; a summary or an insight says less
            covered |= sources
        kept.append(hit)
    return kept


def _standardised(values: Sequence[float | None]) -> list[float]:
    """z-scores over the values present; a missing value (no vector yet) scores the mean."""
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return [0.0] * len(values)
    mean = math.fsum(present) / len(present)
    spread = math.sqrt(math.fsum((v - mean) ** 2 for v in present) / len(present))
    if spread == 0:
        return [0.0] * len(values)
    return [0.0 if v is None else (v - mean) / spread for v in values]
