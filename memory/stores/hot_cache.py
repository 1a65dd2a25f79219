"""The hot session state as `Sessions` sees it: every read, write and delete of the
`SessionStore`, with each failure turned into a rebuild from Postgres — counted by reason
and logged with the store's key — never into a failed turn."""

import logging
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from memory.core.domain import Scope
from memory.core.errors import BackendUnavailable, CorruptState
from memory.core.requests import request_id
from memory.core.session_state import SessionState
from memory.stores.session_store import SessionStore
from memory.stores.tenants import TenantStore

# The events are the sessions' (what an operator filters on), wherever the code sits.
log = logging.getLogger("memory.stores.sessions")


class HotCache:
    def __init__(self, store: SessionStore, tenants: TenantStore) -> None:
        self.store = store
        self._tenants = tenants
        # Why the cache could not answer, by reason: missing, stale, corrupt, unavailable.
        self.recoveries: Counter[str] = Counter()

    async def get(
        self, scope: Scope, sid: uuid.UUID, *, count_missing: bool = True
    ) -> SessionState | None:
        try:
            state = await self.store.get(scope, sid)
        except CorruptState as exc:
            self.recovered("corrupt", scope, sid, str(exc))
            await self.forget(scope, sid)
            return None
        except BackendUnavailable as exc:
            self.recovered("unavailable", scope, sid, str(exc))
            return None
        if state is None and count_missing:
            self.recovered("missing", scope, sid)
        self.event("get", scope, sid, "miss" if state is None else "hit")
        return state

    async def keep(self, state: SessionState, read_at: datetime) -> None:
        windows = await self._tenants.lifecycle(state.tenant_id)
        try:
            written = await self.store.put(state, windows.hard_expiry_s, read_at)
        except BackendUnavailable as exc:
            self.recovered("unavailable", state.scope, state.session_id, str(exc))
            return
        self.event("put", state.scope, state.session_id, "written" if written else "older")

    async def forget(self, scope: Scope, sid: uuid.UUID) -> None:
        try:
            await self.store.delete(scope, sid)
        except BackendUnavailable as exc:
            self.recovered("unavailable", scope, sid, str(exc))
            return
        self.event("delete", scope, sid, "deleted")

    def recovered(self, reason: str, scope: Scope, sid: uuid.UUID, detail: str = "") -> None:
        self.recoveries[reason] += 1
        # Missing and stale entries are routine (a first turn, a sweep that moved the
        # status); corrupt and unreachable ones are what an operator needs to see.
        level = logging.WARNING if reason in ("corrupt", "unavailable") else logging.INFO
        log.log(
            level,
            "session state from Postgres (%s) %s",
            reason,
            detail,
            extra=self.fields("recover", scope, sid, reason),
        )

    def event(self, op: str, scope: Scope, sid: uuid.UUID, outcome: str) -> None:
        log.info("session %s %s", op, outcome, extra=self.fields(op, scope, sid, outcome))

    def fields(self, op: str, scope: Scope, sid: uuid.UUID, outcome: str) -> dict[str, Any]:
        return {
            "layer": "session",
            "op": op,
            "outcome": outcome,
            "key": self.store.key(scope, sid),
            "store": self.store.name,
            "tenant": scope.tenant_id,
            "user": scope.user_id,
            "session": str(sid),
            "request_id": request_id.get(),
        }
