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

from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core import domain
from memory.core import metadata as meta
from memory.core.crypto import DISABLED, Cipher
from memory.core.domain import Clock, Role, Scope
from memory.core.errors import Conflict, InvalidInput, NotFound
from memory.core.lifecycle import restorable, status_at
from memory.core.records import Message
from memory.core.session_state import (
    UNSET,
    Flow,
    RunTotals,
    SessionState,
    changed,
    with_message,
)
from memory.core.settings import SessionSettings
from memory.core.sql import scope_params
from memory.infra.rls import SYSTEM, transaction
from memory.stores import session_rows as rows
from memory.stores.devices import DeviceGuard
from memory.stores.hot_cache import HotCache
from memory.stores.session_rebuild import Rebuild, SessionCorrupt
from memory.stores.session_store import SessionStore
from memory.stores.tenants import TenantStore
from memory.stores.transcripts import Appended, NewTurn, TranscriptStore
from memory.stores.users import ensure_user

log = logging.getLogger(__name__)

_SCOPED = "tenant_id = :tenant_id AND user_id = :user_id AND id = :session_id"


@dataclass(frozen=True, slots=True)
class Turn:
    """An ingested message and the session state after it."""

    message: Message
    state: SessionState
    replayed: bool


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
        self._rebuild = Rebuild(engine, self._cache, cipher, settings.window_messages)
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
        metadata: Mapping[str, Any] | None = None,
        thread: str | None = None,
        session_metadata: Mapping[str, Any] | None = None,
    ) -> Turn:
        """Commit the message, then bring the hot state along. The message is durable when
        this returns, whatever happens to the cache. A session idle past the tenant's
        hard-expiry window has ended even before the sweep marks it (`Conflict`). The
        message opens the session in `thread` with `session_metadata` if it is the first."""
        item = NewTurn(role, content, idempotency_key, at, metadata)
        device, hard_expiry_s = await self._guard(scope, device_id, takeover)
        appended = (
            await self._transcripts.append_turns(
                scope,
                session_id,
                [item],
                device,
                hard_expiry_s,
                thread=thread,
                session_metadata=session_metadata,
            )
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
        thread: str | None = None,
        session_metadata: Mapping[str, Any] | None = None,
    ) -> list[Turn]:
        """Commit several messages of one session at once, all or none, each idempotent on
        its own key; then bring the hot state along once. Every turn carries the state
        after the whole batch."""
        device, hard_expiry_s = await self._guard(scope, device_id, takeover)
        appended = await self._transcripts.append_turns(
            scope,
            session_id,
            items,
            device,
            hard_expiry_s,
            thread=thread,
            session_metadata=session_metadata,
        )
        sid = appended[0].message.session_id
        if all(a.replayed for a in appended):
            state = await self.state(scope, sid)
        else:
            assembled, read_at = await self._rebuild.assemble(scope, sid)
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
            state, read_at = await self._rebuild.assemble(scope, sid)
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
            cached, read_at = await self._rebuild.assemble(scope, sid)
            await self._cache.keep(cached, read_at)
        return await self._present(cached)

    async def latest(self, scope: Scope, thread: str | None = None) -> SessionState | None:
        """The user's most recently active session, on any device, of `thread` or of any."""
        name = None if thread is None else meta.thread(thread)
        async with transaction(self._engine, scope) as conn:
            sid = await rows.latest(conn, scope, name)
        return None if sid is None else await self.state(scope, sid)

    async def open(
        self,
        scope: Scope,
        device_id: str,
        session_id: uuid.UUID | str | None = None,
        *,
        takeover: bool = False,
        thread: str | None = None,
    ) -> SessionState:
        """Open a session on a device: continue `session_id` here, or start a new one (in
        `thread`, "main" if None). While another device is active this raises
        `OtherDeviceActive` naming it, unless `takeover` is set; two tabs of one device
        share a session freely."""
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
            "thread": None if thread is None else meta.thread(thread),
            "session_metadata": None,
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
            stored = self._rebuild.readable_context(scope, sid, row.context)
            if stored is not None:
                context = changed(stored, changes, add_totals)
                sealed = self._rebuild.seal_context(scope, sid, context)
                written = await rows.write_context(conn, scope, sid, sealed)
        if stored is None:
            await self._rebuild.end_corrupt(scope, sid, "its context does not decode")
            raise SessionCorrupt(sid)
        cached = await self._cache.get(scope, sid, count_missing=False)
        version, read_at = written.version, written.read_at
        if cached is not None and cached.version == version - 1:
            state = cached.model_copy(update={"context": context, "version": version})
        else:
            state, read_at = await self._rebuild.assemble(scope, sid)
        await self._cache.keep(state, read_at)
        return await self._present(state)

    async def retract_last(
        self, scope: Scope, session_id: uuid.UUID | str
    ) -> tuple[Message | None, SessionState]:
        """Take back the session's last message (see `TranscriptStore.retract_last`), and
        the state after it."""
        sid = domain.parse_uuid(session_id, "session_id")
        message = await self._transcripts.retract_last(scope, sid)
        state, read_at = await self._rebuild.assemble(scope, sid)
        await self._cache.keep(state, read_at)
        return message, await self._present(state)

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
