"""The tenants and users rows that every tier hangs off. Writes create them on first use so
the library works without a provisioning step. Forget (delete everything of a user) and
export (every tier as JSON lines) are first-class."""

import json
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from memory.core.crypto import DISABLED, Cipher, KeyMissing
from memory.core.domain import Scope
from memory.core.records import UserStyle
from memory.core.sql import scope_params
from memory.infra.rls import transaction
from memory.stores.session_store import SessionStore
from memory.stores.transfer import EXPORT, complete, import_user

_ENSURE_TENANT = text(
    "INSERT INTO tenants (id, name) VALUES (:tenant_id, :tenant_id) ON CONFLICT DO NOTHING"
)
_ENSURE_USER = text(
    "INSERT INTO users (tenant_id, id) VALUES (:tenant_id, :user_id) ON CONFLICT DO NOTHING"
)


async def ensure_user(conn: AsyncConnection, scope: Scope) -> None:
    params = scope_params(scope)
    await conn.execute(_ENSURE_TENANT, params)
    await conn.execute(_ENSURE_USER, params)


_STYLE = text("SELECT style FROM users WHERE tenant_id = :tenant_id AND id = :user_id")
_SET_STYLE = text(
    "UPDATE users SET style = CAST(:style AS jsonb) WHERE tenant_id = :tenant_id AND id = :user_id"
)


def _style_json(style: UserStyle) -> str:
    data = asdict(style)
    data["subjects"] = list(style.subjects)
    return json.dumps(data)


class UserStyles:
    """How each user talks (`UserStyle`), kept on their row."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, scope: Scope) -> UserStyle | None:
        """As the worker last saw it (None before the user's first session ended)."""
        async with transaction(self._engine, scope) as conn:
            data = await conn.scalar(_STYLE, scope_params(scope))
        if not data:
            return None
        known = {name: data[name] for name in UserStyle.__dataclass_fields__ if name in data}
        known["subjects"] = tuple(known.get("subjects", ()))
        return UserStyle(**known)

    async def put(self, scope: Scope, value: UserStyle) -> None:
        async with transaction(self._engine, scope) as conn:
            await conn.execute(_SET_STYLE, {**scope_params(scope), "style": _style_json(value)})


_FORGET_RUNS = text("DELETE FROM runs WHERE tenant_id = :tenant_id AND user_id = :user_id")
_FORGET_USER = text("DELETE FROM users WHERE tenant_id = :tenant_id AND id = :user_id")
_NOW = text("SELECT clock_timestamp()")

# The keys the user's sealed rows need, so that an export fails before its first row.
_SEALING_KEYS = text("""
SELECT key_id FROM messages
WHERE tenant_id = :tenant_id AND user_id = :user_id AND key_id IS NOT NULL
UNION  -- distinct
SELECT context->>'key_id' FROM sessions
WHERE tenant_id = :tenant_id AND user_id = :user_id AND context ? 'sealed'
""")


class UserRecords:
    """All of one user's rows at once: export them, or forget them."""

    def __init__(
        self, engine: AsyncEngine, session_store: SessionStore, cipher: Cipher = DISABLED
    ) -> None:
        self._engine = engine
        self._session_store = session_store
        self._cipher = cipher

    async def forget(self, scope: Scope) -> None:
        """Forget a user everywhere: every tier and the run ledger in Postgres, then the
        hot state, with the database's time of the delete, so that a read racing it cannot
        put the state back. Final once it returns; if the cache cannot be reached it raises
        and may simply be retried. A job working for the user waits for the delete or fails
        at its next write (`memory.infra.rls.lease`)."""
        async with transaction(self._engine, scope) as conn:
            # The user row first: deleting it waits for every job transaction that holds it
            # (a ledger write included), and makes any later one fail with `Forgotten`; the
            # runs are deleted after, by a statement that sees what those jobs committed.
            await conn.execute(_FORGET_USER, scope_params(scope))
            await conn.execute(_FORGET_RUNS, scope_params(scope))
        async with transaction(self._engine, scope) as conn:
            forgotten_at: datetime = await conn.scalar(_NOW)
        await self._session_store.forget_user(scope, forgotten_at)

    async def import_rows(self, scope: Scope, rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
        """Rebuild every tier of a user from what `export` wrote (see `memory.stores.transfer`),
        all of it or nothing; the rows imported per tier."""
        by_tier = complete(rows)
        async with transaction(self._engine, scope) as conn:
            return await import_user(conn, scope, by_tier, self._cipher)

    async def export(self, scope: Scope) -> AsyncIterator[dict[str, Any]]:
        """Every row of the user, tier by tier, as JSON-ready dicts with a `tier` key;
        sealed content and context come out opened (an export is the user's data,
        readable). The last row, `{"tier": "end", "rows": {tier: count}}`, says the export
        is complete. Raises `KeyMissing` before the first row when a row is sealed with a
        key the cipher lacks."""
        params = scope_params(scope)
        async with transaction(self._engine, scope) as conn:
            for key_id in (await conn.execute(_SEALING_KEYS, params)).scalars():
                if key_id not in self._cipher.key_ids:
                    raise KeyMissing(key_id)
            counts: dict[str, int] = {}
            for tier, sql in EXPORT.items():
                counts[tier] = 0
                result = await conn.stream(text(sql), params)
                async for row in result.mappings():
                    values = _opened(dict(row), scope, self._cipher)
                    yield {"tier": tier, **{k: _jsonable(v) for k, v in values.items()}}
                    counts[tier] += 1
        yield {"tier": "end", "rows": counts}


def _opened(row: dict[str, Any], scope: Scope, cipher: Cipher) -> dict[str, Any]:
    t, u = scope.tenant_id, scope.user_id
    if "key_id" in row:  # a message
        row["content"] = cipher.open_message(t, u, row["id"], row.pop("key_id"), row["content"])
    context = row.get("context")
    if isinstance(context, dict) and "sealed" in context:  # a session's sealed context
        row["context"] = json.loads(cipher.open_context(t, u, row["id"], context))
    return row


def _jsonable(value: object) -> object:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
