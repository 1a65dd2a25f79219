"""The raw transcript tier: every message, committed before it is acknowledged, ordered by a
gapless per-session `seq`, and deduplicated by its idempotency key.

Appends to one session serialize on the session row (`UPDATE ... last_seq + 1`), so `seq`
has no gaps even under concurrency; a retry with a known key returns the stored message.
An append that names its device also enforces "one active device per user" in the same
transaction, under a per-user advisory lock, so two devices cannot both slip through."""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from memory.core import domain
from memory.core import metadata as meta
from memory.core.crypto import DISABLED, Cipher
from memory.core.domain import Clock, Role, Scope
from memory.core.errors import Conflict, IdempotencyMismatch, InvalidInput, NotFound
from memory.core.records import Message
from memory.core.sql import SESSION_EXISTS, scope_params
from memory.infra.rls import SYSTEM, bind, connection, transaction
from memory.stores import session_rows
from memory.stores.devices import DeviceGuard
from memory.stores.users import ensure_user

_COLUMNS = (
    "id, session_id, seq, role, content, key_id, idempotency_key, device_id, created_at, "
    "archived_at, metadata"
)
_SCOPED = "tenant_id = :tenant_id AND user_id = :user_id"

_BY_KEY = text(f"SELECT {_COLUMNS} FROM messages WHERE {_SCOPED} AND idempotency_key = :key")

# No idle limit: a store used without a tenant's windows (imports, evals) only refuses
# sessions that have durably ended.
_NO_IDLE_LIMIT = datetime(1, 1, 2, tzinfo=UTC)


_INSERT = text(f"""
INSERT INTO messages (id, tenant_id, user_id, session_id, seq, role, content, key_id,
                      idempotency_key, device_id, created_at, metadata)
VALUES (:id, :tenant_id, :user_id, :session_id, :seq, :role, :stored, :key_id, :key,
        :device_id, :at, CAST(:metadata AS jsonb))
ON CONFLICT (tenant_id, user_id, idempotency_key) DO NOTHING
RETURNING {_COLUMNS}
""")

_WINDOW = text(f"""
SELECT * FROM (
    SELECT {_COLUMNS} FROM messages
    WHERE {_SCOPED} AND session_id = :session_id AND seq < :before_seq
    ORDER BY seq DESC LIMIT :limit
) AS latest ORDER BY seq
""")

_BY_IDS = text(f"SELECT {_COLUMNS} FROM messages WHERE {_SCOPED} AND id = ANY(:ids) ORDER BY id")

_AFTER = text(f"""
SELECT {_COLUMNS} FROM messages
WHERE {_SCOPED} AND session_id = :session_id AND seq > :after_seq
ORDER BY seq LIMIT :limit
""")
_AFTER_MATCHING = text(f"""
SELECT {_COLUMNS} FROM messages
WHERE {_SCOPED} AND session_id = :session_id AND seq > :after_seq
  AND metadata @> CAST(:metadata AS jsonb)
ORDER BY seq LIMIT :limit
""")


# One tenant's raw messages archived longer ago than its retention window.
_RETENTION = text("""
DELETE FROM messages
WHERE tenant_id = :tenant_id AND archived_at IS NOT NULL AND archived_at <= :archived_before
""")
_ARCHIVE = text(f"""
UPDATE messages SET archived_at = :at
WHERE {_SCOPED} AND session_id = :session_id AND archived_at IS NULL
""")

_DELETE = text(f"DELETE FROM messages WHERE {_SCOPED} AND id = ANY(:ids)")
_DELETE_SEQ = text(f"""
DELETE FROM messages WHERE {_SCOPED} AND session_id = :session_id AND seq = :seq
RETURNING {_COLUMNS}
""")

_MAX_KEY_CHARS = 200
_MAX_WINDOW = 1000
_NO_UPPER_SEQ = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Appended:
    """An append's outcome: the message, the session version it produced (None when the
    append was a retry of a stored message), whether it was such a retry, and the database
    time the append read the session at."""

    message: Message
    session_version: int | None
    replayed: bool
    read_at: datetime | None = None


@dataclass(frozen=True)
class NewTurn:
    """One message of a batch append."""

    role: Role | str
    content: str
    idempotency_key: str | None = None
    at: datetime | None = None
    metadata: Mapping[str, Any] | None = None


MAX_BATCH = 500  # messages in one batch append


class _KeyTaken(Exception):
    """Another append committed this idempotency key while we waited for the session."""


def _message(scope: Scope, row: RowMapping, cipher: Cipher) -> Message:
    return Message(
        id=row["id"],
        scope=scope,
        session_id=row["session_id"],
        seq=row["seq"],
        role=Role(row["role"]),
        content=cipher.open_message(
            scope.tenant_id, scope.user_id, row["id"], row["key_id"], row["content"]
        ),
        idempotency_key=row["idempotency_key"],
        created_at=row["created_at"],
        archived_at=row["archived_at"],
        device_id=row["device_id"],
        metadata=row["metadata"],
    )


def _key(value: str | None) -> str:
    if value is None:
        return f"auto:{uuid.uuid4()}"
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_KEY_CHARS:
        raise InvalidInput("idempotency_key", f"must be 1-{_MAX_KEY_CHARS} non-blank characters")
    return value


class TranscriptStore:
    """With an enabled `cipher`, content is sealed before it is written (bound to its
    tenant, user and message id) and opened when read; callers only see plaintext."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        max_content_chars: int,
        cipher: Cipher = DISABLED,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._max_content_chars = max_content_chars
        self._cipher = cipher

    async def append(
        self,
        scope: Scope,
        session_id: uuid.UUID | str,
        role: Role | str,
        content: str,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
    ) -> Message:
        """Commit one message and return it with its `seq`. The session is opened on first
        use. A retry with the same key returns the original; the same key with a different
        message raises `IdempotencyMismatch`."""
        appended = await self.append_turn(
            scope, session_id, role, content, idempotency_key=idempotency_key, at=at
        )
        return appended.message

    async def append_turn(
        self,
        scope: Scope,
        session_id: uuid.UUID | str,
        role: Role | str,
        content: str,
        *,
        idempotency_key: str | None = None,
        at: datetime | None = None,
        device: DeviceGuard | None = None,
        hard_expiry_s: int | None = None,
    ) -> Appended:
        """`append`, also saying which session version it produced; with `device`, the
        append is refused with `OtherDeviceActive` while another device of the user is
        active (unless it takes over), and the session moves to this device. With
        `hard_expiry_s`, a session idle that long before the message's time has ended:
        `Conflict`, as for a session the sweep has already ended."""
        item = NewTurn(role, content, idempotency_key, at)
        return (await self.append_turns(scope, session_id, [item], device, hard_expiry_s))[0]

    async def append_turns(
        self,
        scope: Scope,
        session_id: uuid.UUID | str,
        items: Sequence[NewTurn],
        device: DeviceGuard | None = None,
        hard_expiry_s: int | None = None,
        *,
        thread: str | None = None,
        session_metadata: Mapping[str, Any] | None = None,
    ) -> list[Appended]:
        """Several messages of one session in one transaction, in order: all are committed
        or none is. Each is idempotent on its own key: a retry of the whole batch answers
        every message as replayed, and a batch that repeats some stored messages appends
        only the others. A session the batch opens goes into `thread` ("main" if None)
        with `session_metadata`; naming another thread than an existing session's is a
        `Conflict`."""
        if not items:
            raise InvalidInput("messages", "send at least one message")
        if len(items) > MAX_BATCH:
            raise InvalidInput("messages", f"at most {MAX_BATCH} messages in one batch")
        now = self._clock()
        sid = domain.parse_uuid(session_id, "session_id")
        labels = {
            "thread": None if thread is None else meta.thread(thread),
            "session_metadata": None
            if session_metadata is None
            else meta.encoded(meta.metadata(session_metadata, "session_metadata")),
        }
        batch = [
            {**self._params(scope, sid, item, device, hard_expiry_s, now), **labels}
            for item in items
        ]
        async with connection(self._engine) as conn:
            for _ in range(2):
                try:
                    async with conn.begin():
                        await bind(conn, scope)
                        return await self._append_all(conn, scope, batch, items, device)
                except _KeyTaken:  # a concurrent retry won; its rows are committed now
                    continue
        raise Conflict("the same messages are being appended concurrently; retry")

    def _params(
        self,
        scope: Scope,
        sid: uuid.UUID,
        item: NewTurn,
        device: DeviceGuard | None,
        hard_expiry_s: int | None,
        now: datetime,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            **scope_params(scope),
            "session_id": sid,
            "role": domain.role(item.role).value,
            "content": domain.content(item.content, "content", self._max_content_chars),
            "key": _key(item.idempotency_key),
            "at": now if item.at is None else domain.event_time(item.at, "at", now),
            "id": uuid.uuid4(),
            "device_id": None if device is None else domain.external_id(device.id, "device_id"),
            "metadata": meta.encoded(meta.metadata(item.metadata)),
        }
        params["idle_since"] = (
            _NO_IDLE_LIMIT
            if hard_expiry_s is None
            else params["at"] - timedelta(seconds=hard_expiry_s)
        )
        params["key_id"], params["stored"] = self._cipher.seal_message(
            scope.tenant_id, scope.user_id, params["id"], params["content"]
        )
        return params

    async def _append_all(
        self,
        conn: AsyncConnection,
        scope: Scope,
        batch: list[dict[str, Any]],
        items: Sequence[NewTurn],
        device: DeviceGuard | None,
    ) -> list[Appended]:
        done: list[Appended] = []
        checked = False
        for params, item in zip(batch, items, strict=True):
            # A key we generated cannot have been used yet: skip the lookup for it.
            if item.idempotency_key is not None:
                existing = await self._by_key(conn, scope, params["key"])
                if existing is not None:
                    done.append(Appended(_same_or_mismatch(existing, params), None, True))
                    continue
            if device is not None and not checked:
                await device.check(conn, params)
                checked = True
            done.append(await self._insert(conn, scope, params))
        return done

    async def _by_key(self, conn: AsyncConnection, scope: Scope, key: str) -> Message | None:
        row = (await conn.execute(_BY_KEY, {**scope_params(scope), "key": key})).mappings().first()
        return None if row is None else _message(scope, row, self._cipher)

    async def _insert(
        self, conn: AsyncConnection, scope: Scope, params: dict[str, Any]
    ) -> Appended:
        taken = await session_rows.next_seq(conn, params)
        if taken is None:
            status = await session_rows.status(conn, scope, params["session_id"])
            if status in session_rows.ENDED:
                raise Conflict(f"session {params['session_id']} has ended; start a new one")
            if status is None:  # new for this user
                await ensure_user(conn, scope)
                await session_rows.open_row(conn, params)
            # Again: the session is new, or a concurrent first append has just committed it.
            taken = await session_rows.next_seq(conn, params)
            if taken is None:  # idle past its hard-expiry window: ended, if not yet swept
                raise Conflict(f"session {params['session_id']} has ended; start a new one")
        if params["thread"] is not None and taken.thread != params["thread"]:
            raise Conflict(  # rolls back, giving the seq we took back
                f"session {params['session_id']} belongs to thread {taken.thread!r}, "
                f"not {params['thread']!r}"
            )
        row = (await conn.execute(_INSERT, {**params, "seq": taken.last_seq})).mappings().first()
        if row is None:
            raise _KeyTaken  # rolls back, giving the seq we took back
        message = _message(scope, row, self._cipher)
        return Appended(message, taken.version, replayed=False, read_at=taken.read_at)

    async def window(
        self,
        scope: Scope,
        session_id: uuid.UUID | str,
        *,
        limit: int = 20,
        before_seq: int | None = None,
    ) -> list[Message]:
        """The last `limit` messages of a session (before `before_seq`), oldest first."""
        domain.limit(limit, _MAX_WINDOW)
        params = {
            **scope_params(scope),
            "session_id": domain.parse_uuid(session_id, "session_id"),
            "before_seq": _NO_UPPER_SEQ if before_seq is None else before_seq,
            "limit": limit,
        }
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(_WINDOW, params)).mappings().all()
            if not rows and await conn.scalar(SESSION_EXISTS, params) is None:
                raise NotFound(f"session {params['session_id']} not found")
        return [_message(scope, row, self._cipher) for row in rows]

    async def after(
        self,
        scope: Scope,
        session_id: uuid.UUID | str,
        after_seq: int,
        *,
        limit: int = 100,
        metadata: Mapping[str, Any] | str | None = None,
    ) -> list[Message]:
        """The session's messages after `after_seq`, oldest first (reading forward); with
        `metadata`, only the messages whose metadata contains it."""
        domain.limit(limit, _MAX_WINDOW)
        wanted = meta.metadata_filter(metadata)
        params = {
            **scope_params(scope),
            "session_id": domain.parse_uuid(session_id, "session_id"),
            "after_seq": after_seq,
            "limit": limit,
            "metadata": None if wanted is None else meta.encoded(wanted),
        }
        statement = _AFTER if wanted is None else _AFTER_MATCHING
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(statement, params)).mappings().all()
            if not rows and await conn.scalar(SESSION_EXISTS, params) is None:
                raise NotFound(f"session {params['session_id']} not found")
        return [_message(scope, row, self._cipher) for row in rows]

    async def get_many(self, scope: Scope, ids: Iterable[uuid.UUID | str]) -> list[Message]:
        """The messages of this scope among `ids`; unknown or foreign ids are left out."""
        params = {**scope_params(scope), "ids": domain.parse_uuids(ids, "ids")}
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(_BY_IDS, params)).mappings().all()
        return [_message(scope, row, self._cipher) for row in rows]

    async def archive(self, scope: Scope, session_id: uuid.UUID | str) -> int:
        """Mark a session's messages archived (retention counts from here); idempotent."""
        params = {
            **scope_params(scope),
            "session_id": domain.parse_uuid(session_id, "session_id"),
            "at": self._clock(),
        }
        async with transaction(self._engine, scope) as conn:
            result = await conn.execute(_ARCHIVE, params)
        return result.rowcount

    async def delete_archived(self, tenant_id: str, archived_before: datetime) -> int:
        """Retention: delete one tenant's raw messages archived before `archived_before`,
        for every user of the tenant; how many went."""
        params = {"tenant_id": tenant_id, "archived_before": archived_before}
        async with transaction(self._engine, SYSTEM) as conn:
            result = await conn.execute(_RETENTION, params)
        return result.rowcount

    async def retract_last(self, scope: Scope, session_id: uuid.UUID | str) -> Message | None:
        """Take back the session's last message (the caller's undo): it is deleted and the
        session's `seq` steps back, so the transcript stays gapless and the next append
        takes its place. None when the session has no message; `Conflict` once the session
        has ended (its transcript is then summarized as it is); `NotFound` without it."""
        sid = domain.parse_uuid(session_id, "session_id")
        async with transaction(self._engine, scope) as conn:
            row = await session_rows.lock_last(conn, scope, sid)
            if row is None:
                raise NotFound(f"session {sid} not found")
            if row.status in session_rows.ENDED:
                raise Conflict(f"session {sid} has ended; its transcript is kept as it was")
            if row.last_seq == 0:
                return None
            params = {**scope_params(scope), "session_id": sid, "seq": row.last_seq}
            found = (await conn.execute(_DELETE_SEQ, params)).mappings().first()
            if found is None:
                return None
            await session_rows.retracted(conn, scope, sid)
        return _message(scope, found, self._cipher)

    async def delete(self, scope: Scope, ids: Iterable[uuid.UUID | str]) -> int:
        params = {**scope_params(scope), "ids": domain.parse_uuids(ids, "ids")}
        async with transaction(self._engine, scope) as conn:
            result = await conn.execute(_DELETE, params)
        return result.rowcount


def _same_or_mismatch(existing: Message, params: Mapping[str, Any]) -> Message:
    same = (
        existing.session_id == params["session_id"]
        and existing.role.value == params["role"]
        and existing.content == params["content"]
    )
    if not same:
        raise IdempotencyMismatch(
            f"idempotency key {params['key']!r} was used for a different message"
        )
    return existing
