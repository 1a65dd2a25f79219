"""Where hot session state lives: the `SessionStore` protocol and its two implementations,
Redis (when `MEMSTRATA_REDIS_URL` is set) and a Postgres table (the default and fallback).

Both write only a newer version than the one stored (a compare-and-set on `version`), keep
an entry until the hard-expiry window has passed, and raise `CorruptState` for an entry that
does not decode. Redis keys carry the scope as a hash tag, `ms:v1:{<tenant>:<user>}:…`, so a
user's keys stay on one Redis Cluster slot.

A forget must stay final against a request that read the user's state just before it and
writes it to the cache just after: every `put` says when (by the database's clock) its state
was read, and a state read before the user was forgotten is never written. Redis keeps a
per-user marker with the time of the forget; the Postgres table only takes a state whose
session row still exists as it was (a forget cascades the rows away)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.crypto import DISABLED, Cipher
from memory.core.domain import Clock, Scope
from memory.core.errors import BackendUnavailable, ConstraintViolation, CorruptState
from memory.core.session_state import SessionState, decode, encode
from memory.core.sql import scope_params
from memory.infra.rls import SYSTEM, transaction

# How long a forget's marker refuses late writes: far longer than any request takes.
FORGOTTEN_MARKER_S = 24 * 60 * 60


def _user_prefix(scope: Scope) -> str:
    return f"ms:v1:{{{scope.tenant_id}:{scope.user_id}}}"


def _forgotten_key(scope: Scope) -> str:
    return f"{_user_prefix(scope)}:forgotten"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


class SessionStore(Protocol):
    name: str

    def key(self, scope: Scope, session_id: uuid.UUID) -> str:
        """How this store names the entry (for logs)."""
        ...

    async def get(self, scope: Scope, session_id: uuid.UUID) -> SessionState | None:
        """The stored state, None if there is none (or it expired)."""
        ...

    async def put(self, state: SessionState, ttl_s: int, read_at: datetime) -> bool:
        """Store `state` (read from the database at `read_at`) unless an equal or newer
        version is there or the user was forgotten after `read_at`; True if written."""
        ...

    async def delete(self, scope: Scope, session_id: uuid.UUID) -> None: ...

    async def forget_user(self, scope: Scope, forgotten_at: datetime) -> None:
        """Drop every entry of the user and refuse states read before `forgotten_at` (the
        database's time once the user's rows were deleted)."""
        ...

    async def close(self) -> None: ...


def _checked(state: SessionState, scope: Scope, session_id: uuid.UUID) -> SessionState:
    """An entry must describe the session its key names, or it is not to be trusted."""
    if state.scope != scope or state.session_id != session_id:
        raise CorruptState("session entry belongs to another key")
    return state


# Compare-and-set: write only over nothing, over garbage, or over an older version, and
# never a state read before the user was last forgotten (KEYS[2], microseconds).
_PUT_IF_NEWER = """
local forgotten = tonumber(redis.call('GET', KEYS[2]))
if forgotten and tonumber(ARGV[4]) <= forgotten then return 0 end
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', KEYS[1]) end
local stored = tonumber(redis.call('HGET', KEYS[1], 'v'))
if stored and stored >= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


class RedisSessionStore:
    name = "redis"

    def __init__(self, url: str, timeout_s: float = 0.5, cipher: Cipher = DISABLED) -> None:
        self._cipher = cipher
        # Short timeouts and one try: a dead Redis must cost a turn milliseconds, not
        # seconds, since Postgres has everything needed to rebuild.
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._put = self._redis.register_script(_PUT_IF_NEWER)

    def key(self, scope: Scope, session_id: uuid.UUID) -> str:
        return f"{_user_prefix(scope)}:session:{session_id}"

    async def get(self, scope: Scope, session_id: uuid.UUID) -> SessionState | None:
        try:
            entry = await self._redis.hgetall(self.key(scope, session_id))
        except ResponseError as exc:  # e.g. WRONGTYPE: something else sits at the key
            raise CorruptState(f"unreadable session entry: {exc}") from exc
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc
        if not entry:
            return None
        payload, version = entry.get(b"d"), entry.get(b"v")
        if not isinstance(payload, bytes) or not isinstance(version, bytes):
            raise CorruptState("session entry lacks its fields")
        state = _checked(decode(payload, self._cipher, scope, session_id), scope, session_id)
        if str(state.version).encode() != version:
            raise CorruptState("session entry version does not match its payload")
        return state

    async def put(self, state: SessionState, ttl_s: int, read_at: datetime) -> bool:
        keys = [self.key(state.scope, state.session_id), _forgotten_key(state.scope)]
        try:
            payload = encode(state, self._cipher)
            args: list[int | bytes] = [state.version, payload, ttl_s * 1000, _micros(read_at)]
            written = await self._put(keys=keys, args=args)
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc
        return bool(written)

    async def delete(self, scope: Scope, session_id: uuid.UUID) -> None:
        try:
            await self._redis.delete(self.key(scope, session_id))
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc

    async def forget_user(self, scope: Scope, forgotten_at: datetime) -> None:
        # The marker first: a put racing this scan is refused rather than re-creating a key
        # the scan has already passed.
        pattern = f"{_user_prefix(scope)}:session:*"
        try:
            await self._redis.set(
                _forgotten_key(scope), _micros(forgotten_at), ex=FORGOTTEN_MARKER_S
            )
            async for key in self._redis.scan_iter(match=pattern, count=500):
                await self._redis.delete(key)
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc

    async def close(self) -> None:
        await self._redis.aclose()


_SCOPED = "tenant_id = :tenant_id AND user_id = :user_id AND session_id = :session_id"
_PG_GET = text(f"SELECT version, payload FROM session_cache WHERE {_SCOPED} AND expires_at > :now")
# Only for a session row that still exists as the state knew it: after a forget the row is
# gone (or, if the user came back with the same session id, started at another time).
_PG_PUT = text("""
INSERT INTO session_cache (session_id, tenant_id, user_id, version, payload, expires_at)
SELECT :session_id, :tenant_id, :user_id, :version, :payload, :expires_at
WHERE EXISTS (SELECT 1 FROM sessions WHERE tenant_id = :tenant_id AND user_id = :user_id
              AND id = :session_id AND started_at = :started_at)
ON CONFLICT (tenant_id, user_id, session_id) DO UPDATE
SET version = excluded.version, payload = excluded.payload, expires_at = excluded.expires_at
WHERE session_cache.version < excluded.version
   OR session_cache.expires_at <= :now
RETURNING 1
""")
_PG_DELETE = text(f"DELETE FROM session_cache WHERE {_SCOPED}")
_PG_PURGE = text("DELETE FROM session_cache WHERE expires_at <= :now")


class PostgresSessionStore:
    """Hot state in the `session_cache` table. The row's scope columns and the foreign key
    to its session keep it inside the user's data."""

    name = "postgres"

    def __init__(self, engine: AsyncEngine, clock: Clock, cipher: Cipher = DISABLED) -> None:
        self._engine = engine
        self._clock = clock
        self._cipher = cipher

    def key(self, scope: Scope, session_id: uuid.UUID) -> str:
        return f"session_cache/{scope.tenant_id}/{scope.user_id}/{session_id}"

    async def get(self, scope: Scope, session_id: uuid.UUID) -> SessionState | None:
        params = {**scope_params(scope), "session_id": session_id, "now": self._clock()}
        async with transaction(self._engine, scope) as conn:
            row = (await conn.execute(_PG_GET, params)).first()
        if row is None:
            return None
        payload = bytes(row.payload)
        state = _checked(decode(payload, self._cipher, scope, session_id), scope, session_id)
        if state.version != row.version:
            raise CorruptState("session entry version does not match its payload")
        return state

    async def put(self, state: SessionState, ttl_s: int, read_at: datetime) -> bool:
        now = self._clock()
        params = {
            **scope_params(state.scope),
            "session_id": state.session_id,
            "version": state.version,
            "payload": encode(state, self._cipher),
            "now": now,
            "expires_at": now + timedelta(seconds=ttl_s),
            "started_at": state.started_at,
        }
        try:
            async with transaction(self._engine, state.scope) as conn:
                return (await conn.execute(_PG_PUT, params)).first() is not None
        except ConstraintViolation:  # the session went while we wrote (a forget): keep nothing
            return False

    async def delete(self, scope: Scope, session_id: uuid.UUID) -> None:
        params = {**scope_params(scope), "session_id": session_id}
        async with transaction(self._engine, scope) as conn:
            await conn.execute(_PG_DELETE, params)

    async def forget_user(self, scope: Scope, forgotten_at: datetime) -> None:
        """Nothing to do: the rows go with the user's sessions (foreign-key cascade), and a
        late put finds no session row to attach to."""

    async def purge_expired(self) -> int:
        """Drop entries past their window (Redis does this itself with TTLs)."""
        async with transaction(self._engine, SYSTEM) as conn:  # every scope's expired rows
            return (await conn.execute(_PG_PURGE, {"now": self._clock()})).rowcount

    async def close(self) -> None:
        return None
