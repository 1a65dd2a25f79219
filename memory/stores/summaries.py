"""The session-summary tier: one summary per session (topics, decisions, open loops),
written when a session hard-expires. Writing it again replaces it, so the job may rerun."""

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core import domain
from memory.core.domain import Clock, Scope
from memory.core.errors import ConstraintViolation, InvalidInput, NotFound
from memory.core.records import SessionSummary
from memory.core.sql import scope_params, vector_literal
from memory.infra.rls import transaction

_COLUMNS = "id, session_id, text, topics, decisions, open_loops, started_at, ended_at, created_at"
_SCOPED = "tenant_id = :tenant_id AND user_id = :user_id"

_UPSERT = text(f"""
INSERT INTO session_summaries (id, tenant_id, user_id, session_id, text, topics, decisions,
                               open_loops, started_at, ended_at, created_at, embedding,
                               message_ids)
VALUES (:id, :tenant_id, :user_id, :session_id, :text, CAST(:topics AS jsonb),
        CAST(:decisions AS jsonb), CAST(:open_loops AS jsonb), :started_at, :ended_at, :at,
        CAST(:embedding AS vector), CAST(:message_ids AS uuid[]))
ON CONFLICT (tenant_id, user_id, session_id) DO UPDATE SET
    text = excluded.text, topics = excluded.topics, decisions = excluded.decisions,
    open_loops = excluded.open_loops, message_ids = excluded.message_ids,
    started_at = excluded.started_at,
    ended_at = excluded.ended_at, created_at = excluded.created_at,
    embedding = excluded.embedding
RETURNING {_COLUMNS}
""")
_BY_SESSION = text(
    f"SELECT {_COLUMNS} FROM session_summaries WHERE {_SCOPED} AND session_id = :session_id"
)
_LATEST = text(
    f"SELECT {_COLUMNS} FROM session_summaries WHERE {_SCOPED} ORDER BY ended_at DESC LIMIT :limit"
)

_MAX_ITEMS = 50
_MAX_ITEM_CHARS = 500
_MAX_LIST = 1000


def _summary(scope: Scope, row: RowMapping) -> SessionSummary:
    return SessionSummary(
        id=row["id"],
        scope=scope,
        session_id=row["session_id"],
        text=row["text"],
        topics=tuple(row["topics"]),
        decisions=tuple(row["decisions"]),
        open_loops=tuple(row["open_loops"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        created_at=row["created_at"],
    )


def _items(values: Sequence[str], field: str) -> str:
    if isinstance(values, str) or len(values) > _MAX_ITEMS:
        raise InvalidInput(field, f"must be a list of at most {_MAX_ITEMS} strings")
    return json.dumps([domain.content(v, field, _MAX_ITEM_CHARS) for v in values])


class SummaryStore:
    def __init__(self, engine: AsyncEngine, clock: Clock, max_content_chars: int) -> None:
        self._engine = engine
        self._clock = clock
        self._max_chars = max_content_chars

    async def put(
        self,
        scope: Scope,
        session_id: uuid.UUID | str,
        summary: str,
        *,
        topics: Sequence[str] = (),
        decisions: Sequence[str] = (),
        open_loops: Sequence[str] = (),
        started_at: datetime,
        ended_at: datetime,
        embedding: Sequence[float] | None = None,
        message_ids: Iterable[uuid.UUID | str] = (),
    ) -> SessionSummary:
        """Write (or rewrite) the summary of one of this user's sessions; `message_ids` are
        the messages its text retells (its provenance in recall)."""
        params: dict[str, Any] = {
            "message_ids": [str(m) for m in domain.parse_uuids(message_ids, "message_ids")],
            **scope_params(scope),
            "id": uuid.uuid4(),
            "session_id": domain.parse_uuid(session_id, "session_id"),
            "text": domain.content(summary, "text", self._max_chars),
            "topics": _items(topics, "topics"),
            "decisions": _items(decisions, "decisions"),
            "open_loops": _items(open_loops, "open_loops"),
            "started_at": domain.aware(started_at, "started_at"),
            "ended_at": domain.aware(ended_at, "ended_at"),
            "embedding": vector_literal(embedding),
            "at": self._clock(),
        }
        if params["ended_at"] < params["started_at"]:
            raise InvalidInput("ended_at", "must not be before started_at")
        try:
            async with transaction(self._engine, scope) as conn:
                row = (await conn.execute(_UPSERT, params)).mappings().one()
        except ConstraintViolation as exc:  # the session is not one of this user's
            raise NotFound(f"session {params['session_id']} not found") from exc
        return _summary(scope, row)

    async def get(self, scope: Scope, session_id: uuid.UUID | str) -> SessionSummary:
        params = {**scope_params(scope), "session_id": domain.parse_uuid(session_id, "session_id")}
        async with transaction(self._engine, scope) as conn:
            row = (await conn.execute(_BY_SESSION, params)).mappings().first()
        if row is None:
            raise NotFound(f"no summary for session {params['session_id']}")
        return _summary(scope, row)

    async def latest(self, scope: Scope, *, limit: int = 5) -> list[SessionSummary]:
        """The most recently ended sessions' summaries, newest first."""
        domain.limit(limit, _MAX_LIST)
        async with transaction(self._engine, scope) as conn:
            rows = await conn.execute(_LATEST, {**scope_params(scope), "limit": limit})
            return [_summary(scope, row) for row in rows.mappings().all()]
