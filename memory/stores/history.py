"""Looking back, read-only: a user's sessions as a timeline (status, turns, how many are
still retained, the summary), and the users of a tenant. What the inspector and operators
read; nothing here writes."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core import domain
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


@dataclass(frozen=True, slots=True)
class UserOverview:
    id: str
    created_at: datetime
    sessions: int
    last_active_at: datetime | None


_SESSIONS = text("""
SELECT s.id, s.device_id, s.status, s.started_at, s.last_active_at, s.last_seq AS turns,
       (SELECT count(*) FROM messages m WHERE m.tenant_id = s.tenant_id
          AND m.user_id = s.user_id AND m.session_id = s.id) AS retained,
       ss.text AS summary, ss.topics
FROM sessions s
LEFT JOIN session_summaries ss
  ON ss.tenant_id = s.tenant_id AND ss.user_id = s.user_id AND ss.session_id = s.id
WHERE s.tenant_id = :tenant_id AND s.user_id = :user_id
ORDER BY s.last_active_at DESC, s.id LIMIT :limit
""")

_USERS = text("""
SELECT u.id, u.created_at, count(s.id) AS sessions, max(s.last_active_at) AS last_active_at
FROM users u
LEFT JOIN sessions s ON s.tenant_id = u.tenant_id AND s.user_id = u.id
WHERE u.tenant_id = :tenant_id
GROUP BY u.id, u.created_at
ORDER BY max(s.last_active_at) DESC NULLS LAST, u.id LIMIT :limit
""")


class History:
    """The timeline reads of the inspector and the API: users and their sessions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def sessions(self, scope: Scope, limit: int = 200) -> list[SessionOverview]:
        """The user's sessions, most recently active first."""
        params = {**scope_params(scope), "limit": domain.limit(limit, MAX_LIST)}
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
            )
            for row in rows
        ]

    async def users(self, tenant_id: str, limit: int = 200) -> list[UserOverview]:
        """The tenant's users, most recently active first (every user of the tenant: this is
        the one tenant-wide read, bound to the tenant by row-level security too)."""
        params = {"tenant_id": tenant_id, "limit": domain.limit(limit, MAX_LIST)}
        async with transaction(self._engine, TenantWide(tenant_id)) as conn:
            rows = (await conn.execute(_USERS, params)).mappings().all()
        return [
            UserOverview(
                id=row["id"],
                created_at=row["created_at"],
                sessions=int(row["sessions"]),
                last_active_at=row["last_active_at"],
            )
            for row in rows
        ]
