"""The journal: one narrative document per user, versioned. Every write appends a new
version and every version is kept; a writer that names the version it read gets `Conflict`
if someone else wrote in between."""

import uuid

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory import domain
from memory.domain import Clock, Scope
from memory.errors import Conflict, ConstraintViolation, InvalidInput, NotFound
from memory.records import JournalEntry
from memory.rls import transaction
from memory.sql import scope_params
from memory.users import ensure_user

_COLUMNS = "id, version, content, created_at, session_id"
_SCOPED = "tenant_id = :tenant_id AND user_id = :user_id"

_LATEST_VERSION = text(f"SELECT coalesce(max(version), 0) FROM journal_entries WHERE {_SCOPED}")
_INSERT = text(f"""
INSERT INTO journal_entries (id, tenant_id, user_id, version, content, session_id, created_at)
VALUES (:id, :tenant_id, :user_id, :version, :content, :session_id, :at)
RETURNING {_COLUMNS}
""")
_LATEST = text(
    f"SELECT {_COLUMNS} FROM journal_entries WHERE {_SCOPED} ORDER BY version DESC LIMIT 1"
)
_VERSION = text(f"SELECT {_COLUMNS} FROM journal_entries WHERE {_SCOPED} AND version = :version")
_VERSIONS = text(
    f"SELECT {_COLUMNS} FROM journal_entries WHERE {_SCOPED} ORDER BY version DESC LIMIT :limit"
)

_MAX_LIST = 1000


def _entry(scope: Scope, row: RowMapping) -> JournalEntry:
    return JournalEntry(
        id=row["id"],
        scope=scope,
        version=row["version"],
        content=row["content"],
        created_at=row["created_at"],
        session_id=row["session_id"],
    )


class JournalStore:
    def __init__(self, engine: AsyncEngine, clock: Clock, max_journal_chars: int) -> None:
        self._engine = engine
        self._clock = clock
        self._max_chars = max_journal_chars

    async def append(
        self,
        scope: Scope,
        content: str,
        *,
        expected_version: int | None = None,
        session_id: uuid.UUID | str | None = None,
    ) -> JournalEntry:
        """Write the next version. With `expected_version` (the version the writer read,
        0 for none), a write that would not directly follow it raises `Conflict`."""
        params = {
            **scope_params(scope),
            "id": uuid.uuid4(),
            "content": domain.content(content, "content", self._max_chars),
            "session_id": None
            if session_id is None
            else domain.parse_uuid(session_id, "session_id"),
            "at": self._clock(),
        }
        if expected_version is not None and expected_version < 0:
            raise InvalidInput("expected_version", "must be 0 or more")
        try:
            async with transaction(self._engine, scope) as conn:
                await ensure_user(conn, scope)
                latest = await conn.scalar(_LATEST_VERSION, params)
                if expected_version is not None and latest != expected_version:
                    raise Conflict(f"journal is at version {latest}, not {expected_version}")
                row = (await conn.execute(_INSERT, {**params, "version": latest + 1})).mappings()
                return _entry(scope, row.one())
        except ConstraintViolation as exc:  # a concurrent writer took this version number
            raise Conflict("the journal was written concurrently; read it again") from exc

    async def latest(self, scope: Scope) -> JournalEntry | None:
        async with transaction(self._engine, scope) as conn:
            row = (await conn.execute(_LATEST, scope_params(scope))).mappings().first()
        return None if row is None else _entry(scope, row)

    async def get(self, scope: Scope, version: int) -> JournalEntry:
        async with transaction(self._engine, scope) as conn:
            params = {**scope_params(scope), "version": version}
            row = (await conn.execute(_VERSION, params)).mappings().first()
        if row is None:
            raise NotFound(f"journal version {version} not found")
        return _entry(scope, row)

    async def versions(self, scope: Scope, *, limit: int = 50) -> list[JournalEntry]:
        """Every kept version, newest first."""
        domain.limit(limit, _MAX_LIST)
        async with transaction(self._engine, scope) as conn:
            rows = await conn.execute(_VERSIONS, {**scope_params(scope), "limit": limit})
            return [_entry(scope, row) for row in rows.mappings().all()]
