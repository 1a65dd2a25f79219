"""The `sessions` table: every statement that writes a session row, and the statuses a
session passes through. A row is opened by its first message or by a device, takes the next
`seq` on every append, moves between devices, carries the durable context, goes idle (soft,
then hard expiry), is extracted up to a watermark and is archived. Every change the hot-state
cache must notice bumps `version`; no other module writes this table, so that invariant lives
here. The functions run inside the caller's transaction (`memory.infra.rls`)."""

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from memory.core.domain import Scope, SessionStatus
from memory.core.sql import scope_params

LIVE = frozenset({SessionStatus.ACTIVE, SessionStatus.SOFT_EXPIRED})  # still takes messages
ENDED = frozenset({SessionStatus.HARD_EXPIRED, SessionStatus.ARCHIVED})

_SCOPED = "tenant_id = :tenant_id AND user_id = :user_id AND id = :session_id"

# A session opens in the thread and with the metadata its first message or device names.
_OPEN = text("""
INSERT INTO sessions (id, tenant_id, user_id, last_seq, started_at, last_active_at, device_id,
                      thread, metadata)
VALUES (:session_id, :tenant_id, :user_id, 0, :at, :at, :device_id,
        coalesce(:thread, 'main'), CAST(coalesce(:session_metadata, '{}') AS jsonb))
ON CONFLICT DO NOTHING
""")
# Takes the session row lock: concurrent appends to one session queue here. A session that
# has ended (hard-expired or archived, or idle past its hard-expiry window as of the
# message's time even if no sweep has marked it yet) takes no more messages. The statement
# time says when the state this append produces was read (see `SessionStore.put`).
_NEXT_SEQ = text(f"""
UPDATE sessions
SET last_seq = last_seq + 1, version = version + 1,
    last_active_at = greatest(last_active_at, :at),
    device_id = coalesce(:device_id, device_id), status = 'active'
WHERE {_SCOPED} AND status IN ('active', 'soft_expired') AND last_active_at > :idle_since
RETURNING last_seq, version, thread, statement_timestamp() AS read_at
""")
_MOVE_TO_DEVICE = text(f"""
UPDATE sessions SET device_id = :device_id, last_active_at = greatest(last_active_at, :at),
                    status = 'active', version = version + 1
WHERE {_SCOPED} AND status IN ('active', 'soft_expired') AND last_active_at > :idle_since
RETURNING version
""")
_STATUS = text(f"SELECT status FROM sessions WHERE {_SCOPED}")
_PROGRESS = text(f"""
SELECT extracted_seq, last_seq, status, started_at, last_active_at FROM sessions
WHERE {_SCOPED}
""")
_VERSION = text(f"SELECT version FROM sessions WHERE {_SCOPED}")
_LOCK_CONTEXT = text(f"SELECT context, version FROM sessions WHERE {_SCOPED} FOR UPDATE")
_WRITE_CONTEXT = text(f"""
UPDATE sessions SET context = CAST(:context AS jsonb), version = version + 1
WHERE {_SCOPED} RETURNING version, statement_timestamp() AS read_at
""")
# A durable context that cannot be read ends its session: the transcript is intact (the
# worker summarizes and archives it as usual), the user continues in a new session.
_END_CORRUPT = text(f"""
UPDATE sessions SET context = '{{}}'::jsonb, ended_reason = 'corrupt_state',
    status = CASE WHEN status IN ('active', 'soft_expired') THEN 'hard_expired' ELSE status END,
    version = version + 1
WHERE {_SCOPED}
""")
# The client says the conversation is over (the user closed it): ended now, so the worker
# summarizes and journals it on its next pass instead of after the idle windows.
_END = text(f"""
UPDATE sessions SET ended_reason = 'ended', status = 'hard_expired', version = version + 1
WHERE {_SCOPED} AND status IN ('active', 'soft_expired')
RETURNING version
""")
_LATEST = text("""
SELECT id FROM sessions WHERE tenant_id = :tenant_id AND user_id = :user_id
ORDER BY last_active_at DESC LIMIT 1
""")
_LATEST_IN_THREAD = text("""
SELECT id FROM sessions WHERE tenant_id = :tenant_id AND user_id = :user_id AND thread = :thread
ORDER BY last_active_at DESC LIMIT 1
""")
# Retracting the last message (the caller takes it back): the row is locked, the message
# goes, and `last_seq` steps back so that seq stays gapless; extraction's watermark with it.
_LOCK_LAST = text(f"SELECT last_seq, status FROM sessions WHERE {_SCOPED} FOR UPDATE")
_RETRACTED = text(f"""
UPDATE sessions SET last_seq = last_seq - 1, extracted_seq = least(extracted_seq, last_seq - 1),
                    version = version + 1
WHERE {_SCOPED}
""")
# The caller's labels: replacing the metadata is a change the hot state must notice.
_SET_METADATA = text(f"""
UPDATE sessions SET metadata = CAST(:metadata AS jsonb), version = version + 1
WHERE {_SCOPED} RETURNING version
""")
# Durable statuses by idle time, for one tenant with its resolved windows; bumping
# `version` makes every cached copy stale. SKIP LOCKED lets several workers sweep at once.
_SWEEP = text("""
WITH due AS (
    SELECT s.tenant_id, s.user_id, s.id,
           CASE WHEN s.last_active_at <= :hard_before THEN 'hard_expired'
                ELSE 'soft_expired' END AS next_status
    FROM sessions s
    WHERE s.tenant_id = :tenant_id AND s.status IN ('active', 'soft_expired')
      AND s.last_active_at <= :soft_before
    FOR UPDATE OF s SKIP LOCKED
)
UPDATE sessions s SET status = due.next_status, version = s.version + 1
FROM due
WHERE s.tenant_id = due.tenant_id AND s.user_id = due.user_id AND s.id = due.id
  AND due.next_status <> s.status
RETURNING s.status
""")
_TENANTS_WITH_LIVE = text(
    "SELECT DISTINCT tenant_id FROM sessions WHERE status IN ('active', 'soft_expired')"
)
_EXTRACTED = text(f"""
UPDATE sessions SET extracted_seq = greatest(extracted_seq, :seq) WHERE {_SCOPED}
""")
_ARCHIVE = text(f"""
UPDATE sessions SET status = 'archived', version = version + 1
WHERE {_SCOPED} AND status = 'hard_expired'
""")
_RESEAL_CONTEXT = text("UPDATE sessions SET context = CAST(:context AS jsonb) WHERE id = :id")


def _row(scope: Scope, session_id: uuid.UUID) -> dict[str, Any]:
    return {**scope_params(scope), "session_id": session_id}


async def open_row(conn: AsyncConnection, params: Mapping[str, Any]) -> None:
    """Create the row (scope, `session_id`, `at`, `device_id`, `thread` and
    `session_metadata`, both may be None) unless it exists."""
    await conn.execute(_OPEN, params)


async def next_seq(conn: AsyncConnection, params: Mapping[str, Any]) -> Row[Any] | None:
    """Take the next `seq` for an append (`at`, `device_id`, `idle_since`): the row's
    `last_seq`, `version` and `read_at`, or None when the session does not take messages."""
    return (await conn.execute(_NEXT_SEQ, params)).first()


async def move_to_device(conn: AsyncConnection, params: Mapping[str, Any]) -> int | None:
    """The session continues on `device_id`; its new version, or None when it has ended."""
    version = await conn.scalar(_MOVE_TO_DEVICE, params)
    return None if version is None else int(version)


async def status(conn: AsyncConnection, scope: Scope, session_id: uuid.UUID) -> str | None:
    found = await conn.scalar(_STATUS, _row(scope, session_id))
    return None if found is None else str(found)


async def progress(conn: AsyncConnection, scope: Scope, session_id: uuid.UUID) -> Row[Any] | None:
    """What the worker needs of a session: how far it was extracted, its last seq, its
    status and times."""
    return (await conn.execute(_PROGRESS, _row(scope, session_id))).first()


async def version(conn: AsyncConnection, scope: Scope, session_id: uuid.UUID) -> int | None:
    found = await conn.scalar(_VERSION, _row(scope, session_id))
    return None if found is None else int(found)


async def lock_context(
    conn: AsyncConnection, scope: Scope, session_id: uuid.UUID
) -> Row[Any] | None:
    """The stored context and version, the row locked until the transaction ends."""
    return (await conn.execute(_LOCK_CONTEXT, _row(scope, session_id))).first()


async def write_context(
    conn: AsyncConnection, scope: Scope, session_id: uuid.UUID, context: str
) -> Row[Any]:
    """Store the (sealed) context JSON; the new `version` and `read_at`."""
    params = {**_row(scope, session_id), "context": context}
    return (await conn.execute(_WRITE_CONTEXT, params)).one()


async def end_corrupt(conn: AsyncConnection, scope: Scope, session_id: uuid.UUID) -> None:
    await conn.execute(_END_CORRUPT, _row(scope, session_id))


async def end(conn: AsyncConnection, scope: Scope, session_id: uuid.UUID) -> bool:
    """End a live session now; False if it had ended already (or does not exist)."""
    return (await conn.execute(_END, _row(scope, session_id))).first() is not None


async def latest(
    conn: AsyncConnection, scope: Scope, thread: str | None = None
) -> uuid.UUID | None:
    """The user's most recently active session, of one thread or of any."""
    if thread is None:
        found = await conn.scalar(_LATEST, scope_params(scope))
    else:
        found = await conn.scalar(_LATEST_IN_THREAD, {**scope_params(scope), "thread": thread})
    return None if found is None else uuid.UUID(str(found))


async def lock_last(conn: AsyncConnection, scope: Scope, session_id: uuid.UUID) -> Row[Any] | None:
    """The session's `last_seq` and `status`, the row locked until the transaction ends."""
    return (await conn.execute(_LOCK_LAST, _row(scope, session_id))).first()


async def retracted(conn: AsyncConnection, scope: Scope, session_id: uuid.UUID) -> None:
    """The last message is gone: step `last_seq` (and the watermark) back by one."""
    await conn.execute(_RETRACTED, _row(scope, session_id))


async def set_metadata(
    conn: AsyncConnection, scope: Scope, session_id: uuid.UUID, metadata: str
) -> int | None:
    """Replace the session's metadata (JSON text); its new version, None if no such session."""
    params = {**_row(scope, session_id), "metadata": metadata}
    found = await conn.scalar(_SET_METADATA, params)
    return None if found is None else int(found)


async def tenants_with_live(conn: AsyncConnection) -> list[str]:
    return [str(t) for t in (await conn.scalars(_TENANTS_WITH_LIVE)).all()]


async def sweep(conn: AsyncConnection, params: Mapping[str, Any]) -> list[str]:
    """Move a tenant's idle sessions (`soft_before`, `hard_before`) on; the new statuses."""
    return [str(s) for s in (await conn.execute(_SWEEP, params)).scalars().all()]


async def mark_extracted(
    conn: AsyncConnection, scope: Scope, session_id: uuid.UUID, seq: int
) -> None:
    """Extraction has read the session up to `seq` (never moves back)."""
    await conn.execute(_EXTRACTED, {**_row(scope, session_id), "seq": seq})


async def archive(conn: AsyncConnection, scope: Scope, session_id: uuid.UUID) -> None:
    """A hard-expired session has been summarized: archived."""
    await conn.execute(_ARCHIVE, _row(scope, session_id))


async def reseal_context(conn: AsyncConnection, session_id: uuid.UUID, context: str) -> None:
    """Key rotation: the same context, sealed under the active key (the caller holds the
    row; the version is left alone, as the context did not change)."""
    await conn.execute(_RESEAL_CONTEXT, {"id": session_id, "context": context})


_RESTORE = text("""
INSERT INTO sessions (id, tenant_id, user_id, device_id, status, started_at, last_active_at,
                      last_seq, extracted_seq, version, ended_reason, context, thread, metadata)
VALUES (:id, :tenant_id, :user_id, :device_id, :status, :started_at, :last_active_at,
        :last_seq, :extracted_seq, :version, :ended_reason, CAST(:context AS jsonb), :thread,
        CAST(:metadata AS jsonb))
""")


async def restore(conn: AsyncConnection, row: Mapping[str, Any]) -> None:
    """A session row as an export wrote it (an import), every column as it was."""
    await conn.execute(_RESTORE, dict(row))
