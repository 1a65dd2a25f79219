"""The knowledge tier: insights synthesized across facts and sessions. Each cites the facts
it stands on; a revision is a new version in the same lineage and retires the previous."""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from memory.core import domain
from memory.core.domain import Clock, Scope
from memory.core.errors import Conflict, InvalidInput, NotFound
from memory.core.records import Knowledge
from memory.core.sql import scope_params, vector_literal
from memory.infra.rls import transaction
from memory.stores.users import ensure_user

_SCOPED = "k.tenant_id = :tenant_id AND k.user_id = :user_id"
_SELECT = f"""
SELECT k.id, k.lineage_id, k.version, k.text, k.importance, k.created_at, k.retired_at,
       ARRAY(SELECT s.fact_id FROM knowledge_sources s
             WHERE s.knowledge_id = k.id ORDER BY s.fact_id) AS fact_ids
FROM knowledge k WHERE {_SCOPED}
"""
_BY_IDS = text(_SELECT + " AND k.id = ANY(:ids) ORDER BY k.created_at, k.id")
_LIST_ACTIVE = text(_SELECT + " AND k.retired_at IS NULL ORDER BY k.created_at DESC LIMIT :limit")
_LIST_ALL = text(_SELECT + " ORDER BY k.created_at DESC LIMIT :limit")
_LOCK = text(
    "SELECT k.lineage_id, k.version, k.importance, k.retired_at FROM knowledge k WHERE "
    + _SCOPED
    + " AND k.id = :id FOR UPDATE"
)
_RETIRE = text("UPDATE knowledge k SET retired_at = :at WHERE " + _SCOPED + " AND k.id = :id")
_COUNT_FACTS = text(
    "SELECT count(*) FROM facts f WHERE f.tenant_id = :tenant_id AND f.user_id = :user_id "
    "AND f.id = ANY(:fact_ids)"
)
_INSERT = text("""
INSERT INTO knowledge (id, tenant_id, user_id, lineage_id, version, text, importance,
                       created_at, embedding)
VALUES (:id, :tenant_id, :user_id, :lineage_id, :version, :text, :importance, :at,
        CAST(:embedding AS vector))
""")
_CITE = text("""
INSERT INTO knowledge_sources (knowledge_id, fact_id, tenant_id, user_id)
SELECT :id, f, :tenant_id, :user_id FROM unnest(CAST(:fact_ids AS uuid[])) AS f
""")

_DELETE_LINEAGE = text(
    "DELETE FROM knowledge k WHERE " + _SCOPED + " AND k.lineage_id = ("
    "SELECT c.lineage_id FROM knowledge c WHERE c.tenant_id = :tenant_id"
    " AND c.user_id = :user_id AND c.id = :id)"
)

_MAX_LIST = 1000


def _knowledge(scope: Scope, row: RowMapping) -> Knowledge:
    return Knowledge(
        id=row["id"],
        scope=scope,
        lineage_id=row["lineage_id"],
        version=row["version"],
        text=row["text"],
        importance=row["importance"],
        created_at=row["created_at"],
        retired_at=row["retired_at"],
        fact_ids=tuple(row["fact_ids"]),
    )


class KnowledgeStore:
    def __init__(self, engine: AsyncEngine, clock: Clock, max_content_chars: int) -> None:
        self._engine = engine
        self._clock = clock
        self._max_chars = max_content_chars

    def _params(
        self,
        scope: Scope,
        statement: str,
        fact_ids: Iterable[uuid.UUID | str],
        importance: float,
        embedding: Sequence[float] | None,
    ) -> dict[str, Any]:
        cited = sorted(set(domain.parse_uuids(fact_ids, "fact_ids")))
        if not cited:
            raise InvalidInput("fact_ids", "knowledge must cite at least one fact")
        return {
            **scope_params(scope),
            "id": uuid.uuid4(),
            "text": domain.content(statement, "text", self._max_chars),
            "fact_ids": cited,
            "importance": domain.unit_interval(importance, "importance"),
            "embedding": vector_literal(embedding),
            "at": self._clock(),
        }

    async def _write(self, conn: AsyncConnection, params: dict[str, Any]) -> None:
        cited = await conn.scalar(_COUNT_FACTS, params)
        if cited != len(params["fact_ids"]):
            raise InvalidInput("fact_ids", "cites facts that do not exist for this user")
        await conn.execute(_INSERT, params)
        await conn.execute(_CITE, params)

    async def add(
        self,
        scope: Scope,
        statement: str,
        fact_ids: Iterable[uuid.UUID | str],
        *,
        importance: float = 0.5,
        embedding: Sequence[float] | None = None,
    ) -> Knowledge:
        """Start a new lineage at version 1."""
        params = self._params(scope, statement, fact_ids, importance, embedding)
        params |= {"lineage_id": params["id"], "version": 1}
        async with transaction(self._engine, scope) as conn:
            await ensure_user(conn, scope)
            await self._write(conn, params)
            return await self._get(conn, scope, params["id"])

    async def revise(
        self,
        scope: Scope,
        knowledge_id: uuid.UUID | str,
        statement: str,
        fact_ids: Iterable[uuid.UUID | str],
        *,
        importance: float | None = None,
        embedding: Sequence[float] | None = None,
    ) -> Knowledge:
        """A new version of an active insight; the old one is retired, not deleted."""
        old_id = domain.parse_uuid(knowledge_id, "knowledge_id")
        async with transaction(self._engine, scope) as conn:
            old = (await conn.execute(_LOCK, {**scope_params(scope), "id": old_id})).first()
            if old is None:
                raise NotFound(f"knowledge {old_id} not found")
            if old.retired_at is not None:
                raise Conflict(f"knowledge {old_id} is retired; revise its latest version")
            weight = old.importance if importance is None else importance
            params = self._params(scope, statement, fact_ids, weight, embedding)
            params |= {"lineage_id": old.lineage_id, "version": old.version + 1}
            await conn.execute(_RETIRE, {**params, "id": old_id})
            await self._write(conn, params)
            return await self._get(conn, scope, params["id"])

    async def retire(self, scope: Scope, knowledge_id: uuid.UUID | str) -> Knowledge:
        """Retire an insight (e.g. its facts are gone); idempotent."""
        target = domain.parse_uuid(knowledge_id, "knowledge_id")
        params = {**scope_params(scope), "id": target, "at": self._clock()}
        async with transaction(self._engine, scope) as conn:
            old = (await conn.execute(_LOCK, params)).first()
            if old is None:
                raise NotFound(f"knowledge {target} not found")
            if old.retired_at is None:
                await conn.execute(_RETIRE, params)
            return await self._get(conn, scope, target)

    async def delete(self, scope: Scope, knowledge_id: uuid.UUID | str) -> int:
        """Delete an insight for good, every version of it; the number of rows deleted."""
        target = domain.parse_uuid(knowledge_id, "knowledge_id")
        async with transaction(self._engine, scope) as conn:
            deleted = await conn.execute(_DELETE_LINEAGE, {**scope_params(scope), "id": target})
        if deleted.rowcount == 0:
            raise NotFound(f"knowledge {target} not found")
        return int(deleted.rowcount)

    async def _get(self, conn: AsyncConnection, scope: Scope, kid: uuid.UUID) -> Knowledge:
        rows = (await conn.execute(_BY_IDS, {**scope_params(scope), "ids": [kid]})).mappings()
        return _knowledge(scope, rows.one())

    async def list_knowledge(
        self, scope: Scope, *, include_retired: bool = False, limit: int = 100
    ) -> list[Knowledge]:
        domain.limit(limit, _MAX_LIST)
        sql = _LIST_ALL if include_retired else _LIST_ACTIVE
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(sql, {**scope_params(scope), "limit": limit})).mappings()
            return [_knowledge(scope, row) for row in rows.all()]

    async def get_many(self, scope: Scope, ids: Iterable[uuid.UUID | str]) -> list[Knowledge]:
        params = {**scope_params(scope), "ids": domain.parse_uuids(ids, "ids")}
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(_BY_IDS, params)).mappings().all()
        return [_knowledge(scope, row) for row in rows]
