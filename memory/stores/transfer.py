"""Moving one user between databases: the export's queries (every column that is the user's
data, in the order an importer needs), and the import that rebuilds every tier from an
export in one transaction — all of it or nothing.

The import keeps every id and every time, so what an assistant cited (`[fact:…]`) stays
valid and the export of the imported user equals the export it came from. Embeddings are
not exported (they belong to the embedder); imported rows wait for the worker's embedding
pass, and until then recall finds them by words. Content is sealed again with the target's
keys. An id that exists in the target already (the same user imported twice, or into the
database it came from under another user id) is refused (`Conflict`)."""

import json
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from memory.core import metadata as meta
from memory.core.crypto import Cipher
from memory.core.domain import Scope, normalized_hash
from memory.core.errors import Conflict, InvalidInput
from memory.core.sql import scope_params
from memory.stores import session_rows

_SCOPED = "tenant_id = :tenant_id AND user_id = :user_id"
EXPORT = {
    "user": "SELECT created_at, style, metadata FROM users "
    "WHERE tenant_id = :tenant_id AND id = :user_id",
    "session": "SELECT id, device_id, status, started_at, last_active_at, last_seq, "
    "extracted_seq, version, ended_reason, context, thread, metadata FROM sessions WHERE "
    + _SCOPED
    + " ORDER BY started_at, id",
    "message": "SELECT id, session_id, seq, role, content, key_id, idempotency_key, device_id, "
    "created_at, archived_at, metadata FROM messages WHERE " + _SCOPED + " "
    "ORDER BY created_at, session_id, seq",
    "fact": "SELECT f.id, f.kind, f.text, f.importance, f.confidence, f.attribute, f.valid_from, "
    "f.valid_to, f.superseded_by, f.created_at, f.occurs_at, f.pinned, f.restates, "
    "ARRAY(SELECT s.message_id FROM fact_sources s WHERE s.fact_id = f.id "
    "ORDER BY s.message_id) AS source_message_ids, "
    "ARRAY(SELECT s.session_id FROM fact_sources s WHERE s.fact_id = f.id "
    "ORDER BY s.message_id) AS source_session_ids, "
    "(SELECT coalesce(jsonb_agg(s.metadata ORDER BY s.message_id), '[]'::jsonb) "
    "FROM fact_sources s WHERE s.fact_id = f.id) AS source_metadata "
    "FROM facts f WHERE f.tenant_id = :tenant_id AND f.user_id = :user_id "
    "ORDER BY f.valid_from, f.id",
    "knowledge": "SELECT k.id, k.lineage_id, k.version, k.text, k.importance, k.created_at, "
    "k.retired_at, ARRAY(SELECT s.fact_id FROM knowledge_sources s WHERE s.knowledge_id = k.id "
    "ORDER BY s.fact_id) AS fact_ids FROM knowledge k WHERE k.tenant_id = :tenant_id "
    "AND k.user_id = :user_id ORDER BY k.created_at, k.id",
    "summary": "SELECT id, session_id, text, topics, decisions, open_loops, started_at, "
    "ended_at, created_at, message_ids FROM session_summaries WHERE " + _SCOPED + " "
    "ORDER BY ended_at, id",
    "journal": "SELECT id, version, content, sections, session_id, created_at FROM "
    "journal_entries WHERE " + _SCOPED + " ORDER BY version",
}
TIERS = tuple(EXPORT)

_USER = text(
    "INSERT INTO users (tenant_id, id, created_at, style, metadata) "
    "VALUES (:tenant_id, :user_id, :created_at, CAST(:style AS jsonb), CAST(:metadata AS jsonb))"
)
_TENANT = text(
    "INSERT INTO tenants (id, name) VALUES (:tenant_id, :tenant_id) ON CONFLICT DO NOTHING"
)
_USER_EXISTS = text("SELECT 1 FROM users WHERE tenant_id = :tenant_id AND id = :user_id")
_INSERTS = {
    "message": text(
        "INSERT INTO messages (id, tenant_id, user_id, session_id, seq, role, content, key_id, "
        "idempotency_key, device_id, created_at, archived_at, metadata) VALUES (:id, "
        ":tenant_id, :user_id, :session_id, :seq, :role, :content, :key_id, :idempotency_key, "
        ":device_id, :created_at, :archived_at, CAST(:metadata AS jsonb))"
    ),
    "fact": text(
        "INSERT INTO facts (id, tenant_id, user_id, kind, text, text_hash, importance, "
        "confidence, attribute, valid_from, valid_to, created_at, occurs_at, pinned, restates) "
        "VALUES (:id, :tenant_id, :user_id, :kind, :text, :text_hash, :importance, :confidence, "
        ":attribute, :valid_from, :valid_to, :created_at, :occurs_at, :pinned, :restates)"
    ),
    "knowledge": text(
        "INSERT INTO knowledge (id, tenant_id, user_id, lineage_id, version, text, importance, "
        "created_at, retired_at) VALUES (:id, :tenant_id, :user_id, :lineage_id, :version, "
        ":text, :importance, :created_at, :retired_at)"
    ),
    "summary": text(
        "INSERT INTO session_summaries (id, tenant_id, user_id, session_id, text, topics, "
        "decisions, open_loops, started_at, ended_at, created_at, message_ids) VALUES (:id, "
        ":tenant_id, :user_id, :session_id, :text, CAST(:topics AS jsonb), "
        "CAST(:decisions AS jsonb), CAST(:open_loops AS jsonb), :started_at, :ended_at, "
        ":created_at, CAST(:message_ids AS uuid[]))"
    ),
    "journal": text(
        "INSERT INTO journal_entries (id, tenant_id, user_id, version, content, sections, "
        "session_id, created_at) VALUES (:id, :tenant_id, :user_id, :version, :content, "
        "CAST(:sections AS jsonb), :session_id, :created_at)"
    ),
}
_FACT_SOURCE = text(
    "INSERT INTO fact_sources (fact_id, message_id, tenant_id, user_id, session_id, metadata) "
    "VALUES (:fact_id, :message_id, :tenant_id, :user_id, :session_id, CAST(:metadata AS jsonb))"
)
_SUPERSEDED = text(
    "UPDATE facts SET superseded_by = :superseded_by WHERE " + _SCOPED + " AND id = :id"
)
_KNOWLEDGE_SOURCE = text(
    "INSERT INTO knowledge_sources (knowledge_id, fact_id, tenant_id, user_id) "
    "VALUES (:knowledge_id, :fact_id, :tenant_id, :user_id)"
)
_TIMES = {
    "created_at", "started_at", "last_active_at", "archived_at", "valid_from", "valid_to",
    "occurs_at", "retired_at", "ended_at",
}  # fmt: skip
_IDS = {"id", "session_id", "superseded_by", "lineage_id"}


def complete(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """An export's rows by tier, checked: every line names a known tier, and the last one
    is `{"tier": "end", "rows": …}` with the counts of the lines before it (an export
    without it was cut short, and importing it would lose data)."""
    by_tier: dict[str, list[dict[str, Any]]] = {tier: [] for tier in TIERS}
    end: Mapping[str, Any] | None = None
    for number, row in enumerate(rows, start=1):
        if end is not None:
            raise InvalidInput(f"line {number}", "comes after the end line")
        tier = row.get("tier") if isinstance(row, Mapping) else None
        if tier == "end":
            end = row
        elif tier in by_tier:
            by_tier[tier].append({k: v for k, v in row.items() if k != "tier"})
        else:
            raise InvalidInput(f"line {number}", f"unknown tier {tier!r}")
    if end is None:
        raise InvalidInput("export", 'incomplete: no {"tier": "end"} line; export again')
    counts = Counter({tier: len(found) for tier, found in by_tier.items() if found})
    stated = Counter({k: v for k, v in dict(end.get("rows") or {}).items() if v})
    if counts != stated:
        raise InvalidInput(
            "export", f"the end line counts {dict(stated)}, the file has {dict(counts)}"
        )
    if len(by_tier["user"]) > 1:
        raise InvalidInput("export", "more than one user line")
    return by_tier


async def import_user(
    conn: AsyncConnection,
    scope: Scope,
    by_tier: Mapping[str, list[dict[str, Any]]],
    cipher: Cipher,
) -> dict[str, int]:
    """Rebuild every tier of `scope` from an export's rows (see `complete`), in the open
    transaction of `conn`; the user must have nothing here yet. Returns the rows per tier."""
    params = scope_params(scope)
    if await conn.scalar(_USER_EXISTS, params) is not None:
        raise Conflict(f"user {scope.user_id} exists here already; import into a new user id")
    user = by_tier["user"][0] if by_tier["user"] else {}
    await conn.execute(_TENANT, params)
    await conn.execute(
        _USER,
        {
            **params,
            "created_at": _time(user.get("created_at")) or datetime.now().astimezone(),
            "style": None if user.get("style") is None else json.dumps(user["style"]),
            "metadata": _metadata(user),
        },
    )
    await _transcript(conn, scope, by_tier, cipher)
    await _facts(conn, params, by_tier["fact"])
    await _derived(conn, params, by_tier)
    return {tier: len(found) for tier, found in by_tier.items()}


async def _transcript(
    conn: AsyncConnection,
    scope: Scope,
    by_tier: Mapping[str, list[dict[str, Any]]],
    cipher: Cipher,
) -> None:
    """Sessions and messages, sealed with the target's keys."""
    params = scope_params(scope)
    t, u = scope.tenant_id, scope.user_id
    for row in by_tier["session"]:
        values = _values(row)
        plain = json.dumps(row.get("context") or {})
        values["context"] = cipher.seal_context(t, u, values["id"], plain)
        values["thread"] = meta.thread(row.get("thread") or meta.DEFAULT_THREAD)
        values["metadata"] = _metadata(row)
        await session_rows.restore(conn, {**params, **values})
    for row in by_tier["message"]:
        values = _values(row)
        key_id, stored = cipher.seal_message(t, u, values["id"], str(row["content"]))
        values["metadata"] = _metadata(row)
        await conn.execute(
            _INSERTS["message"], {**params, **values, "key_id": key_id, "content": stored}
        )


async def _derived(
    conn: AsyncConnection, params: dict[str, Any], by_tier: Mapping[str, list[dict[str, Any]]]
) -> None:
    """Knowledge with the facts it cites, session summaries, the journal's versions."""
    for row in by_tier["knowledge"]:
        values = _values(row)
        await conn.execute(_INSERTS["knowledge"], {**params, **values})
        for fact_id in row.get("fact_ids") or []:
            cited = {**params, "knowledge_id": values["id"], "fact_id": uuid.UUID(fact_id)}
            await conn.execute(_KNOWLEDGE_SOURCE, cited)
    for row in by_tier["summary"]:
        values = _values(row)
        for column in ("topics", "decisions", "open_loops"):
            values[column] = json.dumps(row.get(column) or [])
        values["message_ids"] = [str(uuid.UUID(m)) for m in row.get("message_ids") or []]
        await conn.execute(_INSERTS["summary"], {**params, **values})
    for row in by_tier["journal"]:
        values = _values(row)
        sections = json.dumps(row.get("sections") or [])
        await conn.execute(_INSERTS["journal"], {**params, **values, "sections": sections})


async def _facts(
    conn: AsyncConnection, params: dict[str, Any], facts: list[dict[str, Any]]
) -> None:
    """Facts first, then who superseded whom (a link may point at a later row), then where
    each was said (the session outlives the message)."""
    for row in facts:
        values = _values(row)
        values["text_hash"] = normalized_hash(str(row["text"]))
        await conn.execute(_INSERTS["fact"], {**params, **values})
    for row in facts:
        if row.get("superseded_by"):
            link = {"id": uuid.UUID(row["id"]), "superseded_by": uuid.UUID(row["superseded_by"])}
            await conn.execute(_SUPERSEDED, {**params, **link})
        messages = row.get("source_message_ids") or []
        sessions = row.get("source_session_ids") or [None] * len(messages)
        labels = row.get("source_metadata") or [{}] * len(messages)
        for message_id, session_id, label in zip(messages, sessions, labels, strict=True):
            source = {
                **params,
                "fact_id": uuid.UUID(row["id"]),
                "message_id": uuid.UUID(message_id),
                "session_id": None if session_id is None else uuid.UUID(session_id),
                "metadata": meta.encoded(meta.metadata(label, "source_metadata")),
            }
            await conn.execute(_FACT_SOURCE, source)


def _metadata(row: Mapping[str, Any]) -> str:
    """A row's metadata as the database takes it (an export of before metadata has none)."""
    return meta.encoded(meta.metadata(row.get("metadata")))


def _values(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's columns as the database takes them: ids as UUIDs, times as datetimes."""
    values: dict[str, Any] = {}
    for key, value in row.items():
        if key in _TIMES:
            values[key] = _time(value)
        elif key in _IDS:
            values[key] = None if value is None else uuid.UUID(str(value))
        else:
            values[key] = value
    return values


def _time(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput("time", f"not ISO 8601: {value!r}") from exc
    if when.tzinfo is None:
        raise InvalidInput("time", f"needs a zone: {value!r}")
    return when
