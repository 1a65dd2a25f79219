"""Looking back, read-only: a user's sessions as a timeline (status, turns, how many are
still retained, the summary), their threads, and the users of a tenant, each list filtered
by thread or by metadata if asked. What the inspector and operators read; nothing here
writes."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core import domain
from memory.core import metadata as meta
from memory.core.domain import Scope
from memory.core.sql import scope_params
from memory.infra.rls import TenantWide, transaction

MAX_LIST = 1000


@dataclass(frozen=True, slots=True)
class SessionOverview:
    """One session on the timeline. `turns` is how many messages it had; `retained` how
    many are still stored (retention deletes raw messages of ended sessions)."""

    id: uuid.UUID
    device_id: str | None
    status: str
    started_at: datetime
    last_active_at: datetime
    turns: int
    retained: int
    summary: str | None
    topics: tuple[str, ...]
    thread: str = meta.DEFAULT_THREAD
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UserOverview:
    id: str
    created_at: datetime
    sessions: int
    last_active_at: datetime | None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ThreadOverview:
    """One conversation thread of a user: its sessions and when it was last active."""

    thread: str
    sessions: int
    started_at: datetime
    last_active_at: datetime


_SESSIONS = text("""
SELECT s.id, s.device_id, s.status, s.started_at, s.last_active_at, s.last_seq AS turns,
       (SELECT count(*) FROM messages m WHERE m.tenant_id = s.tenant_id
          AND m.user_id = s.user_id AND m.session_id = s.id) AS retained,
       ss.text AS summary, ss.topics, s.thread, s.metadata
FROM sessions s
LEFT JOIN session_summaries ss
  ON ss.tenant_id = s.tenant_id AND ss.user_id = s.user_id AND ss.session_id = s.id
WHERE s.tenant_id = :tenant_id AND s.user_id = :user_id
  AND (CAST(:thread AS text) IS NULL OR s.thread = CAST(:thread AS text))
  AND (CAST(:metadata AS jsonb) IS NULL OR s.metadata @> CAST(:metadata AS jsonb))
ORDER BY s.last_active_at DESC, s.id LIMIT :limit
""")

_THREADS = text("""
SELECT thread, count(*) AS sessions, min(started_at) AS started_at,
       max(last_active_at) AS last_active_at
FROM sessions WHERE tenant_id = :tenant_id AND user_id = :user_id
GROUP BY thread ORDER BY max(last_active_at) DESC, thread LIMIT :limit
""")

_USERS = text("""
SELECT u.id, u.created_at, u.metadata, count(s.id) AS sessions,
       max(s.last_active_at) AS last_active_at
FROM users u
LEFT JOIN sessions s ON s.tenant_id = u.tenant_id AND s.user_id = u.id
WHERE u.tenant_id = :tenant_id
  AND (CAST(:user_id AS text) IS NULL OR u.id = CAST(:user_id AS text))
  AND (CAST(:metadata AS jsonb) IS NULL OR u.metadata @> CAST(:metadata AS jsonb))
GROUP BY u.id, u.created_at, u.metadata
ORDER BY max(s.last_active_at) DESC NULLS LAST, u.id LIMIT :limit
""")


def _filter(metadata: Mapping[str, Any] | str | None) -> str | None:
    wanted = meta.metadata_filter(metadata)
    return None if wanted is None else meta.encoded(wanted)


class History:
    """The timeline reads of the inspector and the API: users and their sessions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def sessions(
        self,
        scope: Scope,
        limit: int = 200,
        *,
        thread: str | None = None,
        metadata: Mapping[str, Any] | str | None = None,
    ) -> list[SessionOverview]:
        """The user's sessions, most recently active first; of one `thread` and with
        metadata containing `metadata`, if given."""
        params = {
            **scope_params(scope),
            "limit": domain.limit(limit, MAX_LIST),
            "thread": None if thread is None else meta.thread(thread),
            "metadata": _filter(metadata),
        }
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(_SESSIONS, params)).mappings().all()
        return [
            SessionOverview(
                id=row["id"],
                device_id=row["device_id"],
                status=row["status"],
                started_at=row["started_at"],
                last_active_at=row["last_active_at"],
                turns=int(row["turns"]),
                retained=int(row["retained"]),
                summary=row["summary"],
                topics=tuple(row["topics"] or ()),
                thread=row["thread"],
                metadata=row["metadata"],
            )
            for row in rows
        ]

    async def threads(self, scope: Scope, limit: int = 200) -> list[ThreadOverview]:
        """The user's threads, most recently active first."""
        params = {**scope_params(scope), "limit": domain.limit(limit, MAX_LIST)}
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(_THREADS, params)).mappings().all()
        return [
            ThreadOverview(
                thread=row["thread"],
                sessions=int(row["sessions"]),
                started_at=row["started_at"],
                last_active_at=row["last_active_at"],
            )
            for row in rows
        ]

    async def users(
        self,
        tenant_id: str,
        limit: int = 200,
        *,
        metadata: Mapping[str, Any] | str | None = None,
    ) -> list[UserOverview]:
        """The tenant's users, most recently active first, with metadata containing
        `metadata` if given (every user of the tenant: this is the one tenant-wide read,
        bound to the tenant by row-level security too)."""
        params = {
            "tenant_id": tenant_id,
            "user_id": None,
            "limit": domain.limit(limit, MAX_LIST),
            "metadata": _filter(metadata),
        }
        async with transaction(self._engine, TenantWide(tenant_id)) as conn:
            rows = (await conn.execute(_USERS, params)).mappings().all()
        return [_user(row) for row in rows]

    async def user(self, scope: Scope) -> UserOverview | None:
        """One user's overview, None if the tenant has no such user."""
        params = {**scope_params(scope), "limit": 1, "metadata": None}
        async with transaction(self._engine, scope) as conn:
            row = (await conn.execute(_USERS, params)).mappings().first()
        return None if row is None else _user(row)


def _user(row: Any) -> UserOverview:
    return UserOverview(
        id=row["id"],
        created_at=row["created_at"],
        sessions=int(row["sessions"]),
        last_active_at=row["last_active_at"],
        metadata=row["metadata"],
    )
