"""Hot session state around the durable transcript: ingest (the message commits to Postgres
first, then the state follows), restore, optimistic updates of the context, task completion,
cross-device continuity, lifecycle sweeps, and recovery from a missing, stale, corrupt or
unreachable cache entry by rebuilding from Postgres.

Postgres holds the truth: messages, and on the session row its device, durable status,
context (flow, topic, entities, open questions, totals) and `version`, which every change
bumps. The `SessionStore` holds an assembled copy tagged with that version; a read trusts
it only when its version is the durable one, so a lost write to the cache costs a rebuild,
never a message."""

import logging
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core import domain
from memory.core.crypto import DISABLED, Cipher
from memory.core.domain import Clock, Role, Scope
from memory.core.errors import Conflict, CorruptState, InvalidInput, NotFound
from memory.core.lifecycle import restorable, status_at
from memory.core.records import Message
from memory.core.session_state import (
    UNSET,
    Context,
    Flow,
    RunTotals,
    SessionState,
    WindowMessage,
    changed,
    with_message,
)
from memory.core.settings import SessionSettings
from memory.core.sql import scope_params
from memory.infra.rls import SYSTEM, transaction
from memory.stores import session_rows as rows
from memory.stores.devices import DeviceGuard
from memory.stores.hot_cache import HotCache
from memory.stores.session_store import SessionStore
from memory.stores.tenants import TenantStore
from memory.stores.transcripts import Appended, NewTurn, TranscriptStore
from memory.stores.users import ensure_user

log = logging.getLogger(__name__)

_SCOPED = "tenant_id = :tenant_id AND user_id = :user_id AND id = :session_id"

# One statement, so the row and the window come from one snapshot.
_ASSEMBLE = text(f"""
SELECT s.device_id, s.status, s.context, s.started_at, s.last_active_at, s.version,
       s.ended_reason, statement_timestamp() AS read_at,
       (SELECT count(*) FROM messages m
        WHERE m.tenant_id = s.tenant_id AND m.user_id = s.user_id AND m.session_id = s.id
          AND m.role = 'user') AS turn_count,
       (SELECT coalesce(json_agg(w ORDER BY w.seq), '[]'::json) FROM (
            SELECT id, seq, role, content, key_id, created_at, device_id FROM messages m
            WHERE m.tenant_id = s.tenant_id AND m.user_id = s.user_id AND m.session_id = s.id
            ORDER BY seq DESC LIMIT :window) AS w) AS window
FROM sessions s WHERE {_SCOPED}
""")


@dataclass(frozen=True, slots=True)
class Turn:
    """An ingested message and the session state after it."""

    message: Message
    state: SessionState
    replayed: bool


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


class Sessions:
    def __init__(
        self,
        engine: AsyncEngine,
        transcripts: TranscriptStore,
        store: SessionStore,
        tenants: TenantStore,
        clock: Clock,
        settings: SessionSettings,
        cipher: Cipher = DISABLED,
    ) -> None:
        self._engine = engine
        self._cipher = cipher
        self._transcripts = transcripts
        self._cache = HotCache(store, tenants)
        self._tenants = tenants
        self._clock = clock
        self._window = settings.window_messages

    @property
    def recoveries(self) -> Counter[str]:
        """Why the cache could not answer, by reason: missing, stale, corrupt, unavailable."""
        return self._cache.recoveries

    # --- ingest -------------------------------------------------------------------------

    async def append(
        self,
        scope: Scope,
        session_id: uuid.UUID | str,
        role: Role | str,
        content: str,
        *,
        idempotency_key: str | None = None,
        device_id: str | None = None,
        takeover: bool = False,
        at: datetime | None = None,
    ) -> Turn:
        """Commit the message, then bring the hot state along. The message is durable when
        this returns, whatever happens to the cache. A session idle past the tenant's
        hard-expiry window has ended even before the sweep marks it (`Conflict`)."""
        item = NewTurn(role, content, idempotency_key, at)
        device, hard_expiry_s = await self._guard(scope, device_id, takeover)
        appended = (
            await self._transcripts.append_turns(scope, session_id, [item], device, hard_expiry_s)
        )[0]
        sid = appended.message.session_id
        if appended.replayed:
            return Turn(appended.message, await self.state(scope, sid), replayed=True)
        state = await self._advance(scope, sid, appended)
        return Turn(appended.message, await self._present(state), replayed=False)

    async def _guard(
        self, scope: Scope, device_id: str | None, takeover: bool
    ) -> tuple[DeviceGuard | None, int]:
        """The device check of an append (if a device is named) and the tenant's hard
        expiry."""
        windows = await self._tenants.lifecycle(scope.tenant_id)
        if device_id is None:
            return None, windows.hard_expiry_s
        return DeviceGuard(device_id, takeover, windows.soft_expiry_s), windows.hard_expiry_s

    async def append_batch(
        self,
        scope: Scope,
        session_id: uuid.UUID | str,
        items: Sequence[NewTurn],
        *,
        device_id: str | None = None,
        takeover: bool = False,
    ) -> list[Turn]:
        """Commit several messages of one session at once, all or none, each idempotent on
        its own key; then bring the hot state along once. Every turn carries the state
        after the whole batch."""
        device, hard_expiry_s = await self._guard(scope, device_id, takeover)
        appended = await self._transcripts.append_turns(
            scope, session_id, items, device, hard_expiry_s
        )
        sid = appended[0].message.session_id
        if all(a.replayed for a in appended):
            state = await self.state(scope, sid)
        else:
            assembled, read_at = await self._assemble(scope, sid)
            await self._cache.keep(assembled, read_at)
            state = await self._present(assembled)
        return [Turn(a.message, state, a.replayed) for a in appended]

    async def _advance(self, scope: Scope, sid: uuid.UUID, appended: Appended) -> SessionState:
        cached = await self._cache.get(scope, sid, count_missing=False)
        version = appended.session_version
        assert version is not None
        read_at = appended.read_at
        assert read_at is not None
        if cached is not None and cached.version == version - 1:
            state = with_message(cached, appended.message, version, self._window)
        else:
            state, read_at = await self._assemble(scope, sid)
        await self._cache.keep(state, read_at)
        return state

    # --- restore ------------------------------------------------------------------------

    async def state(self, scope: Scope, session_id: uuid.UUID | str) -> SessionState:
        """The session's state as of now: from the cache when it is current, else rebuilt
        from Postgres (and the cache refreshed). Status follows the idle time; a session
        past hard expiry shows no active flow."""
        sid = domain.parse_uuid(session_id, "session_id")
        cached = await self._cache.get(scope, sid)
        if cached is not None and cached.version != await self._durable_version(scope, sid):
            self._cache.recovered("stale", scope, sid)
            cached = None
        if cached is None:
            cached, read_at = await self._assemble(scope, sid)
            await self._cache.keep(cached, read_at)
        return await self._present(cached)

    async def latest(self, scope: Scope) -> SessionState | None:
        """The user's most recently active session, on any device."""
        async with transaction(self._engine, scope) as conn:
            sid = await rows.latest(conn, scope)
        return None if sid is None else await self.state(scope, sid)

    async def open(
        self,
        scope: Scope,
        device_id: str,
        session_id: uuid.UUID | str | None = None,
        *,
        takeover: bool = False,
    ) -> SessionState:
        """Open a session on a device: continue `session_id` here, or start a new one.
        While another device is active this raises `OtherDeviceActive` naming it, unless
        `takeover` is set; two tabs of one device share a session freely."""
        sid = uuid.uuid4() if session_id is None else domain.parse_uuid(session_id, "session_id")
        windows = await self._tenants.lifecycle(scope.tenant_id)
        guard = DeviceGuard(device_id, takeover, windows.soft_expiry_s)
        now = self._clock()
        params = {
            **scope_params(scope),
            "session_id": sid,
            "device_id": domain.external_id(device_id, "device_id"),
            "at": now,
            "idle_since": now - timedelta(seconds=windows.hard_expiry_s),
        }
        async with transaction(self._engine, scope) as conn:
            await guard.check(conn, params)
            await ensure_user(conn, scope)
            await rows.open_row(conn, params)
            if await rows.move_to_device(conn, params) is None:
                raise _ended_or_missing(sid, await rows.version(conn, scope, sid))
        return await self.state(scope, sid)

    # --- context ------------------------------------------------------------------------

    async def update(
        self,
        scope: Scope,
        session_id: uuid.UUID | str,
        expected_version: int,
        *,
        flow: Flow | Mapping[str, Any] | None = UNSET,
        topic: str | None = UNSET,
        entities: Sequence[str] = UNSET,
        open_questions: Sequence[str] = UNSET,
        add_totals: RunTotals | Mapping[str, int] | None = None,
    ) -> SessionState:
        """Change the context, naming the version it was read at; `Conflict` if another
        writer got there first. Totals are added, the rest replaced."""
        sid = domain.parse_uuid(session_id, "session_id")
        if isinstance(expected_version, bool) or not isinstance(expected_version, int):
            raise InvalidInput("expected_version", "must be an integer")
        changes = {
            "flow": flow,
            "topic": topic,
            "entities": entities,
            "open_questions": open_questions,
        }
        async with transaction(self._engine, scope) as conn:
            row = await rows.lock_context(conn, scope, sid)
            if row is None:
                raise NotFound(f"session {sid} not found")
            if row.version != expected_version:
                raise Conflict(f"session is at version {row.version}, not {expected_version}")
            stored = self._readable_context(scope, sid, row.context)
            if stored is not None:
                context = changed(stored, changes, add_totals)
                sealed = self._seal_context(scope, sid, context)
                written = await rows.write_context(conn, scope, sid, sealed)
        if stored is None:
            await self._end_corrupt(scope, sid, "its context does not decode")
            raise SessionCorrupt(sid)
        cached = await self._cache.get(scope, sid, count_missing=False)
        version, read_at = written.version, written.read_at
        if cached is not None and cached.version == version - 1:
            state = cached.model_copy(update={"context": context, "version": version})
        else:
            state, read_at = await self._assemble(scope, sid)
        await self._cache.keep(state, read_at)
        return await self._present(state)

    async def end(self, scope: Scope, session_id: uuid.UUID | str) -> SessionState:
        """The conversation is over (the user closed it): the session ends now, and the
        worker's next pass summarizes it and writes the journal. Ending an ended session
        changes nothing; a session that does not exist is `NotFound`."""
        sid = domain.parse_uuid(session_id, "session_id")
        async with transaction(self._engine, scope) as conn:
            ended = await rows.end(conn, scope, sid)
            if not ended and await rows.status(conn, scope, sid) is None:
                raise NotFound(f"session {sid} not found")
        await self._cache.forget(scope, sid)
        return await self.state(scope, sid)

    async def complete_task(
        self, scope: Scope, session_id: uuid.UUID | str, expected_version: int
    ) -> SessionState:
        """The active flow is done: clear it, so nobody resumes into it later."""
        return await self.update(scope, session_id, expected_version, flow=None)

    # --- lifecycle ----------------------------------------------------------------------

    async def tenants_to_sweep(self) -> list[str]:
        """The tenants that have sessions which may have gone idle."""
        async with transaction(self._engine, SYSTEM) as conn:  # a list across tenants
            return await rows.tenants_with_live(conn)

    async def sweep(self, tenant_id: str) -> Counter[str]:
        """Move one tenant's idle sessions to soft or hard expiry in Postgres, with the
        tenant's windows (the worker calls this tenant by tenant, so one tenant's failure
        stops no other's); returns how many moved to each status."""
        windows = await self._tenants.lifecycle(tenant_id)
        now = self._clock()
        params = {
            "tenant_id": tenant_id,
            "soft_before": now - timedelta(seconds=windows.soft_expiry_s),
            "hard_before": now - timedelta(seconds=windows.hard_expiry_s),
        }
        async with transaction(self._engine, SYSTEM) as conn:  # idle sessions of every user
            moved = await rows.sweep(conn, params)
        return Counter(moved)

    async def _durable_version(self, scope: Scope, sid: uuid.UUID) -> int | None:
        async with transaction(self._engine, scope) as conn:
            return await rows.version(conn, scope, sid)

    async def _assemble(self, scope: Scope, sid: uuid.UUID) -> tuple[SessionState, datetime]:
        """The state from Postgres, and the database time it was read at. A context that
        does not decode ends the session (see `_end_corrupt`) and is read again, empty."""
        params = {**scope_params(scope), "session_id": sid, "window": self._window}
        for _attempt in range(2):
            async with transaction(self._engine, scope) as conn:
                row = (await conn.execute(_ASSEMBLE, params)).mappings().first()
            if row is None:
                raise NotFound(f"session {sid} not found")
            context = self._readable_context(scope, sid, row["context"])
            if context is not None:
                break
            await self._end_corrupt(scope, sid, "its context does not decode")
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
        )
        return state, row["read_at"]

    def _readable_context(self, scope: Scope, sid: uuid.UUID, stored: object) -> Context | None:
        """The durable context, or None if it cannot be trusted (malformed, or sealed and
        not opening). A missing key is not corruption: that stays an error."""
        try:
            if not isinstance(stored, dict):
                raise CorruptState("context is not an object")
            return self._open_context(scope, sid, stored)
        except (CorruptState, ValueError, KeyError, TypeError) as exc:
            self._cache.recovered("corrupt_session", scope, sid, f"{type(exc).__name__}")
            return None

    async def _end_corrupt(self, scope: Scope, sid: uuid.UUID, why: str) -> None:
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

    def _seal_context(self, scope: Scope, sid: uuid.UUID, context: Context) -> str:
        plain = context.model_dump_json()
        return self._cipher.seal_context(scope.tenant_id, scope.user_id, sid, plain)

    async def _present(self, state: SessionState) -> SessionState:
        windows = await self._tenants.lifecycle(state.tenant_id)
        status = status_at(state.status, state.last_active_at, self._clock(), windows)
        context = state.context
        if not restorable(status) and context.flow is not None:
            context = context.model_copy(update={"flow": None})  # never resume a stale task
        return state.model_copy(update={"status": status, "context": context})


def _ended_or_missing(sid: uuid.UUID, version: object) -> Exception:
    if version is None:
        return NotFound(f"session {sid} not found")
    return Conflict(f"session {sid} has ended; start a new one")
