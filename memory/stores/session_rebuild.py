"""Rebuilding a session's hot state from Postgres, the truth: the row and its last messages
in one snapshot, the durable context opened (and sealed again on write) when encryption is
on, and a context that cannot be read ending its session — the transcript is intact, the
user continues in a new session. `memory.stores.sessions` calls this whenever the cache
cannot answer."""

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.crypto import Cipher
from memory.core.domain import Scope
from memory.core.errors import Conflict, CorruptState, NotFound
from memory.core.session_state import Context, SessionState, WindowMessage
from memory.core.sql import scope_params
from memory.infra.rls import transaction
from memory.stores import session_rows as rows
from memory.stores.hot_cache import HotCache

log = logging.getLogger(__name__)

_SCOPED = "tenant_id = :tenant_id AND user_id = :user_id AND id = :session_id"

# One statement, so the row and the window come from one snapshot.
_ASSEMBLE = text(f"""
SELECT s.device_id, s.status, s.context, s.started_at, s.last_active_at, s.version,
       s.ended_reason, s.thread, s.metadata, statement_timestamp() AS read_at,
       (SELECT count(*) FROM messages m
        WHERE m.tenant_id = s.tenant_id AND m.user_id = s.user_id AND m.session_id = s.id
          AND m.role = 'user') AS turn_count,
       (SELECT coalesce(json_agg(w ORDER BY w.seq), '[]'::json) FROM (
            SELECT id, seq, role, content, key_id, created_at, device_id FROM messages m
            WHERE m.tenant_id = s.tenant_id AND m.user_id = s.user_id AND m.session_id = s.id
            ORDER BY seq DESC LIMIT :window) AS w) AS window
FROM sessions s WHERE {_SCOPED}
""")


class SessionCorrupt(Conflict):
    """The session's durable state could not be read: it has been ended (its transcript is
    intact) and the user continues in a new session."""

    code = "session_corrupt"

    def __init__(self, session_id: uuid.UUID) -> None:
        super().__init__(
            f"session {session_id} had unreadable stored state and was ended; its messages "
            "are kept; continue in a new session"
        )
        self.session_id = session_id


class Rebuild:
    def __init__(self, engine: AsyncEngine, cache: HotCache, cipher: Cipher, window: int) -> None:
        self._engine = engine
        self._cache = cache
        self._cipher = cipher
        self._window = window

    async def assemble(self, scope: Scope, sid: uuid.UUID) -> tuple[SessionState, datetime]:
        """The state from Postgres, and the database time it was read at. A context that
        does not decode ends the session (see `end_corrupt`) and is read again, empty."""
        params = {**scope_params(scope), "session_id": sid, "window": self._window}
        for _attempt in range(2):
            async with transaction(self._engine, scope) as conn:
                row = (await conn.execute(_ASSEMBLE, params)).mappings().first()
            if row is None:
                raise NotFound(f"session {sid} not found")
            context = self.readable_context(scope, sid, row["context"])
            if context is not None:
                break
            await self.end_corrupt(scope, sid, "its context does not decode")
        else:
            raise SessionCorrupt(sid)  # still unreadable after the reset: not ours to fix
        self._cache.event("rebuild", scope, sid, "rebuilt")
        state = SessionState(
            session_id=sid,
            tenant_id=scope.tenant_id,
            user_id=scope.user_id,
            device_id=row["device_id"],
            status=row["status"],
            window=tuple(self._open_entry(scope, m) for m in row["window"]),
            context=context,
            turn_count=row["turn_count"],
            started_at=row["started_at"],
            last_active_at=row["last_active_at"],
            version=row["version"],
            ended_reason=row["ended_reason"],
            thread=row["thread"],
            metadata=row["metadata"],
        )
        return state, row["read_at"]

    def readable_context(self, scope: Scope, sid: uuid.UUID, stored: object) -> Context | None:
        """The durable context, or None if it cannot be trusted (malformed, or sealed and
        not opening). A missing key is not corruption: that stays an error."""
        try:
            if not isinstance(stored, dict):
                raise CorruptState("context is not an object")
            return self._open_context(scope, sid, stored)
        except (CorruptState, ValueError, KeyError, TypeError) as exc:
            self._cache.recovered("corrupt_session", scope, sid, f"{type(exc).__name__}")
            return None

    async def end_corrupt(self, scope: Scope, sid: uuid.UUID, why: str) -> None:
        """End a session whose durable state cannot be read; logged and counted."""
        async with transaction(self._engine, scope) as conn:
            await rows.end_corrupt(conn, scope, sid)
        await self._cache.forget(scope, sid)
        log.warning(
            "session %s ended: %s; the user continues in a new session",
            sid,
            why,
            extra=self._cache.fields("end", scope, sid, "corrupt_state"),
        )

    def _open_entry(self, scope: Scope, entry: dict[str, Any]) -> WindowMessage:
        key_id = entry.pop("key_id", None)
        entry["content"] = self._cipher.open_message(
            scope.tenant_id, scope.user_id, entry["id"], key_id, entry["content"]
        )
        return WindowMessage.model_validate(entry)

    def _open_context(self, scope: Scope, sid: uuid.UUID, stored: dict[str, Any]) -> Context:
        """The durable context; sealed as {"key_id", "sealed"} when encryption was on."""
        if "sealed" in stored:
            opened = self._cipher.open_context(scope.tenant_id, scope.user_id, sid, stored)
            return Context.model_validate_json(opened)
        return Context.model_validate(stored)

    def seal_context(self, scope: Scope, sid: uuid.UUID, context: Context) -> str:
        plain = context.model_dump_json()
        return self._cipher.seal_context(scope.tenant_id, scope.user_id, sid, plain)
