"""What a caller attaches to its users and sessions: free-form metadata, replaced as a whole
(`memory.core.metadata` bounds it). A message's metadata comes with the message
(`TranscriptStore`); a session's thread is chosen when the session opens."""

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core import domain
from memory.core import metadata as meta
from memory.core.domain import Scope
from memory.core.errors import NotFound
from memory.core.session_state import SessionState
from memory.core.sql import scope_params
from memory.infra.rls import transaction
from memory.stores import session_rows
from memory.stores.history import History, UserOverview
from memory.stores.sessions import Sessions
from memory.stores.users import ensure_user

_SET_USER = text(
    "UPDATE users SET metadata = CAST(:metadata AS jsonb) "
    "WHERE tenant_id = :tenant_id AND id = :user_id"
)


class Labels:
    def __init__(self, engine: AsyncEngine, sessions: Sessions, history: History) -> None:
        self._engine = engine
        self._sessions = sessions
        self._history = history

    async def set_user(self, scope: Scope, metadata: Mapping[str, Any]) -> UserOverview:
        """Replace the user's metadata; the user is created if new, as a first message
        would create them."""
        params = {**scope_params(scope), "metadata": meta.encoded(meta.metadata(metadata))}
        async with transaction(self._engine, scope) as conn:
            await ensure_user(conn, scope)
            await conn.execute(_SET_USER, params)
        found = await self._history.user(scope)
        if found is None:  # forgotten between the two statements
            raise NotFound(f"user {scope.user_id} not found")
        return found

    async def set_session(
        self, scope: Scope, session_id: uuid.UUID | str, metadata: Mapping[str, Any]
    ) -> SessionState:
        """Replace the session's metadata; `NotFound` if the user has no such session."""
        sid = domain.parse_uuid(session_id, "session_id")
        encoded = meta.encoded(meta.metadata(metadata))
        async with transaction(self._engine, scope) as conn:
            version = await session_rows.set_metadata(conn, scope, sid, encoded)
        if version is None:
            raise NotFound(f"session {sid} not found")
        return await self._sessions.state(scope, sid)
