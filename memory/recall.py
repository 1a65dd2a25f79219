"""Hybrid recall over the raw, facts, knowledge and summary tiers: a pgvector cosine ranking
and a Postgres full-text ranking per tier, fused by reciprocal rank, then weighted by
recency and importance. All ranking SQL lives here, as named fragments.

Two pgvector traps are handled on purpose. With a per-user filter an HNSW scan filters its
`ef_search` candidates afterwards and can return fewer than k rows, so each recall sets
`hnsw.iterative_scan` for its transaction (the planner still picks an exact scan for small
users). And `plainto_tsquery` ANDs every word, which finds almost nothing for natural
questions, so the words are ORed: any informative word can match."""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import RowMapping, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from memory import domain
from memory.domain import Clock, FactKind, Scope, Tier
from memory.embedder import Embedder
from memory.errors import InvalidInput
from memory.records import Provenance, RecallHit, ScoreParts
from memory.settings import RecallSettings
from memory.sql import scope_params, vector_literal


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


_TIERS: dict[Tier, _TierSql] = {
    Tier.RAW: _TierSql(
        table="messages",
        body="content",
        at="created_at",
        importance="CAST(:default_importance AS float8)",
        current="TRUE",
        as_of="created_at <= :as_of",
        provenance="ARRAY[r.id] AS message_ids, ARRAY[]::uuid[] AS fact_ids, "
        "r.session_id AS session_id, NULL::text AS kind",
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
        "NULL::uuid AS session_id, r.kind AS kind",
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
        "ORDER BY ks.fact_id) AS fact_ids, NULL::uuid AS session_id, NULL::text AS kind",
    ),
    Tier.SUMMARIES: _TierSql(
        table="session_summaries",
        body="text",
        at="ended_at",
        importance="CAST(:default_importance AS float8)",
        current="TRUE",
        as_of="created_at <= :as_of",
        provenance="ARRAY[]::uuid[] AS message_ids, ARRAY[]::uuid[] AS fact_ids, "
        "r.session_id AS session_id, NULL::text AS kind",
    ),
}

# Any informative word may match: the stemmed, stop-word-free lexemes of the question, ORed.
_OR_QUERY = "replace(plainto_tsquery('english', :query)::text, ' & ', ' | ')::tsquery"

# Per transaction: keep scanning the HNSW graph until the user filter leaves enough rows;
# relaxed order is fine because the candidates are re-ranked by distance below.
_SET_SCAN = (
    text("SET LOCAL hnsw.iterative_scan = relaxed_order"),
    text("SELECT set_config('hnsw.ef_search', :ef_search, true)"),
)

_RANKED = """
WITH vec AS MATERIALIZED (
    SELECT id, embedding <=> CAST(:qvec AS vector) AS dist FROM {table}
    WHERE {filters} AND embedding IS NOT NULL AND CAST(:qvec AS vector) IS NOT NULL
    ORDER BY dist LIMIT :candidates
), vec_ranked AS (
    SELECT id, dist, row_number() OVER (ORDER BY dist) AS rank FROM vec
), txt AS (
    SELECT id, {at} AS at, ts_rank_cd(tsv, query.q) AS score
    FROM {table}, (SELECT {or_query}) AS query(q)
    WHERE {filters} AND tsv @@ query.q
    ORDER BY score DESC, {at} DESC, id LIMIT :candidates
), txt_ranked AS (
    -- Equal text scores: the newer row ranks first, so replays rank the same way each time.
    SELECT id, score, row_number() OVER (ORDER BY score DESC, at DESC, id) AS rank FROM txt
), hits AS (
    SELECT coalesce(v.id, t.id) AS id, v.rank AS vector_rank, 1 - v.dist AS cosine,
           t.rank AS text_rank, t.score AS text_score
    FROM vec_ranked v FULL JOIN txt_ranked t ON t.id = v.id
)
SELECT h.*, r.{body} AS body, r.{at} AS at, {importance} AS importance, {provenance}
FROM hits h JOIN {table} r ON r.id = h.id
"""


@lru_cache(maxsize=64)
def ranked_sql(tier: Tier, *, as_of: bool, since: bool, until: bool, kinds: bool) -> TextClause:
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
    return text(
        _RANKED.format(
            table=spec.table,
            filters=" AND ".join(filters),
            or_query=_OR_QUERY,
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
    ) -> None:
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
        hits: list[RecallHit] = []
        async with self._engine.begin() as conn:
            await conn.execute(_SET_SCAN[0])
            await conn.execute(_SET_SCAN[1], {"ef_search": str(self._settings.hnsw_ef_search)})
            for tier in sorted(request.tiers):
                hits.extend(await self._tier_hits(conn, tier, request, params))
        # Equal scores: the newer memory first, so that replays rank the same way every time.
        hits.sort(key=lambda hit: (-hit.score, -hit.at.timestamp(), str(hit.id)))
        return hits[: request.k]

    def _params(
        self, request: RecallQuery, query_embedding: Sequence[float] | None
    ) -> dict[str, Any]:
        return {
            **scope_params(request.scope),
            "query": request.query,
            "qvec": vector_literal(query_embedding),
            "candidates": max(self._settings.candidates, request.k),
            "default_importance": self._settings.default_importance,
            "as_of": request.as_of,
            "since": request.since,
            "until": request.until,
            "kinds": None if request.kinds is None else [k.value for k in request.kinds],
        }

    async def _tier_hits(
        self, conn: AsyncConnection, tier: Tier, request: RecallQuery, params: dict[str, Any]
    ) -> list[RecallHit]:
        sql = ranked_sql(
            tier,
            as_of=request.as_of is not None,
            since=request.since is not None,
            until=request.until is not None,
            kinds=request.kinds is not None,
        )
        rows = (await conn.execute(sql, params)).mappings().all()
        now = request.as_of or self._clock()
        return [self._hit(tier, row, now) for row in rows]

    def _hit(self, tier: Tier, row: RowMapping, now: datetime) -> RecallHit:
        s = self._settings
        rrf = sum(1.0 / (s.rrf_k + rank) for rank in (row["vector_rank"], row["text_rank"]) if rank)
        age_s = max((now - row["at"]).total_seconds(), 0.0)
        recency = math.pow(0.5, age_s / s.recency_half_life_s)
        importance = float(row["importance"])
        score = rrf * (1 + s.recency_weight * recency + s.importance_weight * importance)
        return RecallHit(
            tier=tier,
            id=row["id"],
            text=row["body"],
            at=row["at"],
            score=score,
            parts=ScoreParts(
                vector_rank=row["vector_rank"],
                cosine=row["cosine"],
                text_rank=row["text_rank"],
                text_score=row["text_score"],
                rrf=rrf,
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
