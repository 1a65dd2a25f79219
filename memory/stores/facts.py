"""The facts tier: discrete statements about a user with their source messages. Identical
current facts (by normalized text) are stored once; a contradiction never deletes, it
supersedes, so the old fact stays readable "as of" a past time."""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from memory.core import domain
from memory.core import metadata as meta
from memory.core.domain import Clock, FactKind, Scope, Tier, normalized_hash
from memory.core.errors import Conflict, InvalidInput, NotFound
from memory.core.records import Fact
from memory.core.sql import SESSION_EXISTS, scope_params, vector_literal
from memory.infra.rls import transaction
from memory.stores.recall_sql import Targets
from memory.stores.users import ensure_user

_SCOPED = "f.tenant_id = :tenant_id AND f.user_id = :user_id"
_SELECT = f"""
SELECT f.id, f.kind, f.text, f.importance, f.confidence, f.attribute, f.valid_from,
       f.valid_to, f.superseded_by, f.created_at, f.occurs_at, f.pinned, f.restates,
       ARRAY(SELECT s.message_id FROM fact_sources s
             WHERE s.fact_id = f.id ORDER BY s.message_id) AS sources
FROM facts f WHERE {_SCOPED}
"""

_INSERT = text("""
INSERT INTO facts (id, tenant_id, user_id, kind, text, text_hash, importance, confidence,
                   attribute, valid_from, created_at, occurs_at, restates, embedding)
VALUES (:id, :tenant_id, :user_id, :kind, :text, :text_hash, :importance, :confidence,
        :attribute, :valid_from, :created_at, :occurs_at, :restates, CAST(:embedding AS vector))
ON CONFLICT (tenant_id, user_id, text_hash) WHERE superseded_by IS NULL AND valid_to IS NULL
DO NOTHING
RETURNING id
""")
_CURRENT_BY_HASH = text(
    "SELECT f.id FROM facts f WHERE "
    + _SCOPED
    + " AND f.text_hash = :text_hash AND f.superseded_by IS NULL AND f.valid_to IS NULL"
)
_ADD_SOURCES = text("""
INSERT INTO fact_sources (fact_id, message_id, tenant_id, user_id, session_id, metadata)
SELECT :fact_id, c.id, :tenant_id, :user_id, m.session_id, coalesce(m.metadata, '{}'::jsonb)
FROM unnest(CAST(:message_ids AS uuid[])) AS c(id)
LEFT JOIN messages m ON m.tenant_id = :tenant_id AND m.user_id = :user_id AND m.id = c.id
ON CONFLICT DO NOTHING
""")
_LOCK = text(
    "SELECT f.id, f.valid_to, f.pinned FROM facts f WHERE " + _SCOPED + " AND f.id = :id FOR UPDATE"
)
_PIN = text("UPDATE facts f SET pinned = :pinned WHERE " + _SCOPED + " AND f.id = :id")
_PINNED = text(_SELECT + " AND f.pinned AND f.valid_to IS NULL ORDER BY f.valid_from, f.id")
_END = text("UPDATE facts f SET valid_to = :valid_to WHERE " + _SCOPED + " AND f.id = :id")
_LINK = text("UPDATE facts f SET superseded_by = :new_id WHERE " + _SCOPED + " AND f.id = :id")
_BY_IDS = text(_SELECT + " AND f.id = ANY(:ids) ORDER BY f.valid_from, f.id")
_CITING = text(
    _SELECT + " AND EXISTS (SELECT 1 FROM fact_sources s WHERE s.fact_id = f.id"
    " AND s.message_id = ANY(:message_ids)) ORDER BY f.valid_from, f.id"
)
_FROM_SESSION = text(
    _SELECT + " AND EXISTS (SELECT 1 FROM fact_sources s WHERE s.tenant_id = f.tenant_id"
    " AND s.user_id = f.user_id AND s.fact_id = f.id AND s.session_id = :session_id)"
    " ORDER BY f.valid_from, f.id"
)
_CURRENT_ABOUT = text(
    _SELECT + " AND f.attribute = :attribute AND f.valid_to IS NULL ORDER BY f.valid_from DESC"
)
# Exact nearest current facts (a user's facts are few enough; no HNSW post-filter trap).
_NEAREST_SQL = (
    _SELECT.replace(
        "SELECT f.id,", "SELECT 1 - (f.embedding <=> CAST(:embedding AS vector)) AS cosine, f.id,"
    )
    + " AND f.valid_to IS NULL AND f.embedding IS NOT NULL{kinds}"
    " ORDER BY f.embedding <=> CAST(:embedding AS vector) LIMIT :k"
)
_NEAREST = text(_NEAREST_SQL.format(kinds=""))
_NEAREST_OF_KINDS = text(_NEAREST_SQL.format(kinds=" AND f.kind = ANY(:kinds)"))
_DELETE = text("DELETE FROM facts f WHERE " + _SCOPED + " AND f.id = ANY(:ids)")
# Every version of every insight that cites the fact: its text may say the fact again, and
# the next reflection pass writes the others anew from what remains.
_DELETE_CITING = text("""
DELETE FROM knowledge k WHERE k.tenant_id = :tenant_id AND k.user_id = :user_id
  AND k.lineage_id IN (
    SELECT c.lineage_id FROM knowledge c
    JOIN knowledge_sources s
      ON s.tenant_id = c.tenant_id AND s.user_id = c.user_id AND s.knowledge_id = c.id
    WHERE c.tenant_id = :tenant_id AND c.user_id = :user_id AND s.fact_id = ANY(:ids))
""")

_MAX_LIST = 1000


def _fact(scope: Scope, row: RowMapping) -> Fact:
    return Fact(
        id=row["id"],
        scope=scope,
        kind=FactKind(row["kind"]),
        text=row["text"],
        importance=row["importance"],
        confidence=row["confidence"],
        attribute=row["attribute"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        superseded_by=row["superseded_by"],
        created_at=row["created_at"],
        source_message_ids=tuple(row["sources"]),
        occurs_at=row["occurs_at"],
        pinned=row["pinned"],
        restates=row["restates"],
    )


def _attribute(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise InvalidInput("attribute", "must be 1-200 characters")
    return value.strip().lower()


def _list_sql(kinds: bool, as_of: bool, include_superseded: bool, targets: Targets) -> str:
    sql = _SELECT
    if kinds:
        sql += " AND f.kind = ANY(:kinds)"
    for condition in targets.filters(Tier.FACTS, fact_id="f.id"):
        sql += f" AND {condition}"
    if as_of:
        sql += " AND f.valid_from <= :as_of AND (f.valid_to IS NULL OR f.valid_to > :as_of)"
    elif not include_superseded:
        sql += " AND f.valid_to IS NULL"
    return sql + " ORDER BY f.valid_from DESC, f.id LIMIT :limit"


class FactStore:
    def __init__(self, engine: AsyncEngine, clock: Clock, max_content_chars: int) -> None:
        self._engine = engine
        self._clock = clock
        self._max_chars = max_content_chars

    def _params(
        self,
        scope: Scope,
        kind: FactKind | str,
        statement: str,
        importance: float,
        source_message_ids: Iterable[uuid.UUID | str],
        valid_from: datetime | None,
        embedding: Sequence[float] | None,
        confidence: float = 1.0,
        attribute: str | None = None,
        occurs_at: datetime | None = None,
        restates: bool = False,
    ) -> dict[str, Any]:
        statement = domain.content(statement, "text", self._max_chars)
        now = self._clock()
        return {
            **scope_params(scope),
            "id": uuid.uuid4(),
            "kind": domain.fact_kind(kind).value,
            "text": statement,
            "text_hash": normalized_hash(statement),
            "importance": domain.unit_interval(importance, "importance"),
            "confidence": domain.unit_interval(confidence, "confidence"),
            "attribute": _attribute(attribute),
            "valid_from": now if valid_from is None else domain.aware(valid_from, "valid_from"),
            "created_at": now,
            "occurs_at": None if occurs_at is None else domain.aware(occurs_at, "occurs_at"),
            "restates": bool(restates),
            "embedding": vector_literal(embedding),
            "message_ids": domain.parse_uuids(source_message_ids, "source_message_ids"),
        }

    async def insert(
        self,
        scope: Scope,
        kind: FactKind | str,
        statement: str,
        *,
        importance: float = 0.5,
        source_message_ids: Iterable[uuid.UUID | str] = (),
        valid_from: datetime | None = None,
        embedding: Sequence[float] | None = None,
        confidence: float = 1.0,
        attribute: str | None = None,
        occurs_at: datetime | None = None,
        restates: bool = False,
    ) -> Fact:
        """Store a fact, or return the identical current one with these sources added."""
        params = self._params(
            scope,
            kind,
            statement,
            importance,
            source_message_ids,
            valid_from,
            embedding,
            confidence,
            attribute,
            occurs_at,
            restates,
        )
        async with transaction(self._engine, scope) as conn:
            await ensure_user(conn, scope)
            fact_id = await self._insert(conn, params)
            return await self._get(conn, scope, fact_id)

    async def _insert(self, conn: AsyncConnection, params: dict[str, Any]) -> uuid.UUID:
        fact_id = await conn.scalar(_INSERT, params)
        if fact_id is None:
            fact_id = await conn.scalar(_CURRENT_BY_HASH, params)
        if fact_id is None:  # the duplicate was superseded between our two statements
            raise Conflict("a concurrent write changed this fact; retry")
        await conn.execute(_ADD_SOURCES, {**params, "fact_id": fact_id})
        return uuid.UUID(str(fact_id))

    async def supersede(
        self,
        scope: Scope,
        old_id: uuid.UUID | str,
        kind: FactKind | str,
        statement: str,
        *,
        importance: float = 0.5,
        source_message_ids: Iterable[uuid.UUID | str] = (),
        valid_from: datetime | None = None,
        embedding: Sequence[float] | None = None,
        confidence: float = 1.0,
        attribute: str | None = None,
        occurs_at: datetime | None = None,
        restates: bool = False,
    ) -> Fact:
        """Replace a current fact: the old one ends where the new one begins and points at
        it. Superseding a fact that is no longer current raises `Conflict`."""
        old = domain.parse_uuid(old_id, "old_id")
        params = self._params(
            scope,
            kind,
            statement,
            importance,
            source_message_ids,
            valid_from,
            embedding,
            confidence,
            attribute,
            occurs_at,
            restates,
        )
        async with transaction(self._engine, scope) as conn:
            row = (await conn.execute(_LOCK, {**scope_params(scope), "id": old})).first()
            if row is None:
                raise NotFound(f"fact {old} not found")
            if row.valid_to is not None:
                raise Conflict(f"fact {old} is no longer current; it cannot be superseded")
            ends = {**scope_params(scope), "id": old, "valid_to": params["valid_from"]}
            await conn.execute(_END, ends)
            new_id = await self._insert(conn, params)
            await conn.execute(_LINK, {**scope_params(scope), "id": old, "new_id": new_id})
            if row.pinned:  # a new version of a pinned fact stays pinned
                await conn.execute(_PIN, {**scope_params(scope), "id": new_id, "pinned": True})
            return await self._get(conn, scope, new_id)

    async def close(self, scope: Scope, fact_id: uuid.UUID | str, at: datetime) -> bool:
        """End a current fact without a successor (an open question that was answered): it
        stays readable "as of" before `at`. False if it was no longer current."""
        fid = domain.parse_uuid(fact_id, "fact_id")
        params = {**scope_params(scope), "id": fid, "valid_to": domain.aware(at, "at")}
        async with transaction(self._engine, scope) as conn:
            row = (await conn.execute(_LOCK, params)).first()
            if row is None:
                raise NotFound(f"fact {fid} not found")
            if row.valid_to is not None:
                return False
            await conn.execute(_END, params)
        return True

    async def _get(self, conn: AsyncConnection, scope: Scope, fact_id: uuid.UUID) -> Fact:
        fact = await self._get_or_none(conn, scope, fact_id)
        assert fact is not None, "written in this transaction"
        return fact

    async def _get_or_none(
        self, conn: AsyncConnection, scope: Scope, fact_id: uuid.UUID
    ) -> Fact | None:
        rows = (await conn.execute(_BY_IDS, {**scope_params(scope), "ids": [fact_id]})).mappings()
        row = rows.first()
        return None if row is None else _fact(scope, row)

    async def list_facts(
        self,
        scope: Scope,
        *,
        kinds: Iterable[FactKind | str] | None = None,
        as_of: datetime | None = None,
        include_superseded: bool = False,
        limit: int = 100,
        thread: str | None = None,
        metadata: Mapping[str, Any] | str | None = None,
    ) -> list[Fact]:
        """Current facts, newest first; or those valid at `as_of`; or all of them. With
        `thread`, those said in that thread (and those added by hand); with `metadata`,
        those said in a message whose metadata contains it."""
        domain.limit(limit, _MAX_LIST)
        params: dict[str, Any] = {**scope_params(scope), "limit": limit}
        if kinds is not None:
            params["kinds"] = [domain.fact_kind(k).value for k in kinds]
        if as_of is not None:
            params["as_of"] = domain.aware(as_of, "as_of")
        if thread is not None:
            params["thread"] = meta.thread(thread)
        wanted = meta.metadata_filter(metadata)
        if wanted is not None:
            params["metadata"] = meta.encoded(wanted)
        targets = Targets(thread=thread is not None, metadata=wanted is not None)
        sql = text(_list_sql(kinds is not None, as_of is not None, include_superseded, targets))
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(sql, params)).mappings().all()
        return [_fact(scope, row) for row in rows]

    async def pin(self, scope: Scope, fact_id: uuid.UUID | str, pinned: bool = True) -> Fact:
        """Pin a fact (it is in the profile whatever else the profile holds) or unpin it."""
        fid = domain.parse_uuid(fact_id, "fact_id")
        params = {**scope_params(scope), "id": fid, "pinned": bool(pinned)}
        async with transaction(self._engine, scope) as conn:
            if (await conn.execute(_PIN, params)).rowcount == 0:
                raise NotFound(f"fact {fid} not found")
            return await self._get(conn, scope, fid)

    async def pinned(self, scope: Scope) -> list[Fact]:
        """The user's current pinned facts, oldest first."""
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(_PINNED, scope_params(scope))).mappings().all()
        return [_fact(scope, row) for row in rows]

    async def get(self, scope: Scope, fact_id: uuid.UUID | str) -> Fact:
        fid = domain.parse_uuid(fact_id, "fact_id")
        async with transaction(self._engine, scope) as conn:
            fact = await self._get_or_none(conn, scope, fid)
        if fact is None:
            raise NotFound(f"fact {fid} not found")
        return fact

    async def get_many(self, scope: Scope, ids: Iterable[uuid.UUID | str]) -> list[Fact]:
        params = {**scope_params(scope), "ids": domain.parse_uuids(ids, "ids")}
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(_BY_IDS, params)).mappings().all()
        return [_fact(scope, row) for row in rows]

    async def citing(self, scope: Scope, message_ids: Iterable[uuid.UUID | str]) -> list[Fact]:
        """The facts (current or not) that these messages are a source of."""
        params = {
            **scope_params(scope),
            "message_ids": domain.parse_uuids(message_ids, "message_ids"),
        }
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(_CITING, params)).mappings().all()
        return [_fact(scope, row) for row in rows]

    async def from_session(self, scope: Scope, session_id: uuid.UUID | str) -> list[Fact]:
        """The facts (current or not) extracted from a session's messages; the link
        outlives the messages themselves."""
        params = {**scope_params(scope), "session_id": domain.parse_uuid(session_id, "session_id")}
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(_FROM_SESSION, params)).mappings().all()
            if not rows and await conn.scalar(SESSION_EXISTS, params) is None:
                raise NotFound(f"session {params['session_id']} not found")
        return [_fact(scope, row) for row in rows]

    async def current_about(self, scope: Scope, attribute: str) -> list[Fact]:
        """The current facts about one attribute of the user, newest first."""
        params = {**scope_params(scope), "attribute": _attribute(attribute)}
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(_CURRENT_ABOUT, params)).mappings().all()
        return [_fact(scope, row) for row in rows]

    async def nearest(
        self,
        scope: Scope,
        embedding: Sequence[float],
        k: int = 5,
        kinds: Iterable[FactKind | str] | None = None,
    ) -> list[tuple[Fact, float]]:
        """The `k` current facts (of `kinds`, or any) closest in meaning, with their cosine
        similarity."""
        params: dict[str, Any] = {
            **scope_params(scope),
            "embedding": vector_literal(embedding),
            "k": k,
        }
        statement = _NEAREST
        if kinds is not None:
            params["kinds"] = [domain.fact_kind(kind).value for kind in kinds]
            statement = _NEAREST_OF_KINDS
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(statement, params)).mappings().all()
        return [(_fact(scope, row), float(row["cosine"])) for row in rows]

    async def add_sources(
        self, scope: Scope, fact_id: uuid.UUID, message_ids: Iterable[uuid.UUID | str]
    ) -> Fact:
        """Record more messages that say this fact (a merged near-duplicate)."""
        target = domain.parse_uuid(fact_id, "fact_id")
        params = {
            **scope_params(scope),
            "fact_id": target,
            "message_ids": domain.parse_uuids(message_ids, "message_ids"),
        }
        async with transaction(self._engine, scope) as conn:
            if await self._get_or_none(conn, scope, target) is None:
                raise NotFound(f"fact {target} not found")
            await conn.execute(_ADD_SOURCES, params)
            return await self._get(conn, scope, target)

    async def delete(self, scope: Scope, ids: Iterable[uuid.UUID | str]) -> int:
        """Delete facts for good (a user's request), and every insight that cites one of
        them; the number of facts deleted."""
        params = {**scope_params(scope), "ids": domain.parse_uuids(ids, "ids")}
        async with transaction(self._engine, scope) as conn:
            await conn.execute(_DELETE_CITING, params)
            result = await conn.execute(_DELETE, params)
        return result.rowcount
