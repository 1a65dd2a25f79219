"""The journal: one narrative document per user, versioned. Every write appends a new
version and every version is kept; a writer that names the version it read gets `Conflict`
if someone else wrote in between.

A version is a list of sections (data: what is current, one section per session, the
condensed older ones, free notes); the Markdown text a person reads is rendered from them
here, when the version is written, and kept beside them."""

import json
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core import domain
from memory.core.domain import Clock, Scope
from memory.core.errors import Conflict, ConstraintViolation, InvalidInput, NotFound
from memory.core.records import JournalEntry, JournalSection, SectionKind
from memory.core.sql import scope_params
from memory.infra.rls import transaction
from memory.stores.users import ensure_user

_COLUMNS = "id, version, content, sections, created_at, session_id"
_SCOPED = "tenant_id = :tenant_id AND user_id = :user_id"

_LATEST_VERSION = text(f"SELECT coalesce(max(version), 0) FROM journal_entries WHERE {_SCOPED}")
_INSERT = text(f"""
INSERT INTO journal_entries (id, tenant_id, user_id, version, content, sections, session_id,
                             created_at)
VALUES (:id, :tenant_id, :user_id, :version, :content, CAST(:sections AS jsonb), :session_id,
        :at)
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
TITLE = "# Journal"


def note(text: str) -> JournalSection:
    """A free section: a journal written by hand is one note."""
    return JournalSection(SectionKind.NOTE, body=text)


def render(sections: Sequence[JournalSection]) -> str:
    """The Markdown a person reads: the title, then each section in order."""
    parts = [TITLE, ""]
    for section in sections:
        if section.kind is SectionKind.NOW:
            parts += ["## Now", *(f"- {item}" for item in section.items), ""]
        elif section.kind is SectionKind.EARLIER:
            parts += ["## Earlier", *(f"- {item}" for item in section.items), ""]
        else:
            heading = [f"## {section.title}"] if section.title else []
            parts += [*heading, section.body, *(f"- {item}" for item in section.items), ""]
    return "\n".join(parts).rstrip() + "\n"


def to_json(sections: Sequence[JournalSection]) -> list[dict[str, Any]]:
    return [
        {
            "kind": s.kind.value,
            "title": s.title,
            "body": s.body,
            "items": list(s.items),
            "session_id": str(s.session_id) if s.session_id else None,
            "on": s.on.isoformat() if s.on else None,
        }
        for s in sections
    ]


def from_json(stored: Sequence[dict[str, Any]]) -> tuple[JournalSection, ...]:
    return tuple(
        JournalSection(
            kind=SectionKind(s["kind"]),
            title=s.get("title") or "",
            body=s.get("body") or "",
            items=tuple(s.get("items") or ()),
            session_id=uuid.UUID(s["session_id"]) if s.get("session_id") else None,
            on=date.fromisoformat(s["on"]) if s.get("on") else None,
        )
        for s in stored
    )


def _entry(scope: Scope, row: RowMapping) -> JournalEntry:
    return JournalEntry(
        id=row["id"],
        scope=scope,
        version=row["version"],
        content=row["content"],
        created_at=row["created_at"],
        session_id=row["session_id"],
        sections=from_json(row["sections"]),
    )


class JournalStore:
    def __init__(self, engine: AsyncEngine, clock: Clock, max_journal_chars: int) -> None:
        self._engine = engine
        self._clock = clock
        self._max_chars = max_journal_chars

    async def append(
        self,
        scope: Scope,
        sections: Sequence[JournalSection],
        *,
        expected_version: int | None = None,
        session_id: uuid.UUID | str | None = None,
    ) -> JournalEntry:
        """Write the next version. With `expected_version` (the version the writer read,
        0 for none), a write that would not directly follow it raises `Conflict`."""
        if not sections:
            raise InvalidInput("sections", "a journal version needs at least one section")
        content = render(sections)
        params = {
            **scope_params(scope),
            "id": uuid.uuid4(),
            "content": domain.content(content, "content", self._max_chars),
            "sections": json.dumps(to_json(sections)),
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
