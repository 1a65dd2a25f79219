"""Hybrid recall over the raw, facts, knowledge and summary tiers. Per tier, Postgres gathers
candidates from two rankers: pgvector cosine (HNSW) and BM25 over the full-text vectors,
with document frequencies counted over the user's own rows. In the raw tier a message also
gets the BM25 of its neighbours in the session, because in a conversation the answer often
shares no word with the question it answers ("where did you go?" / "Lisbon, finally").
The candidates of all tiers are pooled, each signal is standardised over the pool (z-score),
and the fused score adds recency and importance. The ranking SQL is in `recall_sql`.

Two pgvector traps are handled on purpose. With a per-user filter an HNSW scan filters its
`ef_search` candidates afterwards and can return fewer than k rows, so each recall sets
`hnsw.iterative_scan` for its transaction (the planner still picks an exact scan for small
users). And `plainto_tsquery` ANDs every word, which finds almost nothing for natural
questions, so the question's lexemes (stemmed, stop words dropped) are ORed: any
informative word can match, and BM25's inverse document frequency decides which matter."""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from memory.core import domain
from memory.core import metadata as meta
from memory.core.crypto import DISABLED, Cipher
from memory.core.domain import Clock, FactKind, Scope, Tier
from memory.core.errors import InvalidInput
from memory.core.records import Provenance, RecallHit, ScoreParts
from memory.core.settings import RecallSettings
from memory.core.sql import scope_params, vector_literal
from memory.infra.embedder import Embedder
from memory.infra.rls import transaction
from memory.stores.recall_sql import EXACT_SCAN, SET_SCAN, Targets, ranked_sql


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
    thread: str | None = None
    metadata: meta.Metadata | None = None
    session_metadata: meta.Metadata | None = None

    @property
    def targets(self) -> Targets:
        return Targets(
            thread=self.thread is not None,
            metadata=self.metadata is not None,
            session_metadata=self.session_metadata is not None,
        )


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
        thread: str | None = None,
        metadata: Mapping[str, Any] | str | None = None,
        session_metadata: Mapping[str, Any] | str | None = None,
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
            thread=None if thread is None else meta.thread(thread),
            metadata=meta.metadata_filter(metadata),
            session_metadata=meta.metadata_filter(session_metadata, "session_metadata"),
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
        thread: str | None = None,
        metadata: Mapping[str, Any] | str | None = None,
        session_metadata: Mapping[str, Any] | str | None = None,
        query_embedding: Sequence[float] | None = None,
    ) -> list[RecallHit]:
        """The `k` best memories for `query`, each with its tier, score parts and
        provenance. `thread`, `metadata` (of the messages) and `session_metadata` narrow it
        to what came from one thread or from messages or sessions so labelled. Pass
        `query_embedding` to skip embedding the query here."""
        request = self.validate(
            scope,
            query,
            k,
            tiers=tiers,
            kinds=kinds,
            since=since,
            until=until,
            as_of=as_of,
            thread=thread,
            metadata=metadata,
            session_metadata=session_metadata,
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
            await conn.execute(SET_SCAN[0])
            await conn.execute(SET_SCAN[1], {"ef_search": str(self._settings.hnsw_ef_search)})
            if self._settings.exact_scan:
                await conn.execute(EXACT_SCAN)
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
            "thread": request.thread,
            "metadata": _encoded(request.metadata),
            "session_metadata": _encoded(request.session_metadata),
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
            targets=request.targets,
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


def _encoded(value: meta.Metadata | None) -> str | None:
    return None if value is None else meta.encoded(value)


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
