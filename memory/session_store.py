"""Where hot session state lives: the `SessionStore` protocol and its two implementations,
Redis (when `MEMSTRATA_REDIS_URL` is set) and a Postgres table (the default and fallback).

Both write only a newer version than the one stored (a compare-and-set on `version`), keep
an entry until the hard-expiry window has passed, and raise `CorruptState` for an entry that
does not decode. Redis keys carry the scope as a hash tag, `ms:v1:{<tenant>:<user>}:…`, so a
user's keys stay on one Redis Cluster slot."""

import uuid
from datetime import timedelta
from typing import Protocol

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.crypto import DISABLED, Cipher
from memory.domain import Clock, Scope
from memory.errors import BackendUnavailable, CorruptState
from memory.rls import SYSTEM, transaction
from memory.session_state import SessionState, decode, encode
from memory.sql import scope_params


class SessionStore(Protocol):
    name: str

    def key(self, scope: Scope, session_id: uuid.UUID) -> str:
        """How this store names the entry (for logs)."""
        ...

    async def get(self, scope: Scope, session_id: uuid.UUID) -> SessionState | None:
        """The stored state, None if there is none (or it expired)."""
        ...

    async def put(self, state: SessionState, ttl_s: int) -> bool:
        """Store `state` unless an equal or newer version is there; True if written."""
        ...

    async def delete(self, scope: Scope, session_id: uuid.UUID) -> None: ...

    async def forget_user(self, scope: Scope) -> None:
        """Drop every entry of the user (part of forgetting them)."""
        ...

    async def close(self) -> None: ...


def _checked(state: SessionState, scope: Scope, session_id: uuid.UUID) -> SessionState:
    """An entry must describe the session its key names, or it is not to be trusted."""
    if state.scope != scope or state.session_id != session_id:
        raise CorruptState("session entry belongs to another key")
    return state


# Compare-and-set: write only over nothing, over garbage, or over an older version.
_PUT_IF_NEWER = """
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
        return f"ms:v1:{{{scope.tenant_id}:{scope.user_id}}}:session:{session_id}"

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

    async def put(self, state: SessionState, ttl_s: int) -> bool:
        key = self.key(state.scope, state.session_id)
        try:
            payload = encode(state, self._cipher)
            written = await self._put(keys=[key], args=[state.version, payload, ttl_s * 1000])
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc
        return bool(written)

    async def delete(self, scope: Scope, session_id: uuid.UUID) -> None:
        try:
            await self._redis.delete(self.key(scope, session_id))
        except RedisError as exc:
            raise BackendUnavailable(f"redis: {exc}") from exc

    async def forget_user(self, scope: Scope) -> None:
        pattern = f"ms:v1:{{{scope.tenant_id}:{scope.user_id}}}:*"
        try:
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
_PG_PUT = text("""
INSERT INTO session_cache (session_id, tenant_id, user_id, version, payload, expires_at)
VALUES (:session_id, :tenant_id, :user_id, :version, :payload, :expires_at)
ON CONFLICT (session_id) DO UPDATE
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

    async def put(self, state: SessionState, ttl_s: int) -> bool:
        now = self._clock()
        params = {
            **scope_params(state.scope),
            "session_id": state.session_id,
            "version": state.version,
            "payload": encode(state, self._cipher),
            "now": now,
            "expires_at": now + timedelta(seconds=ttl_s),
        }
        async with transaction(self._engine, state.scope) as conn:
            return (await conn.execute(_PG_PUT, params)).first() is not None

    async def delete(self, scope: Scope, session_id: uuid.UUID) -> None:
        params = {**scope_params(scope), "session_id": session_id}
        async with transaction(self._engine, scope) as conn:
            await conn.execute(_PG_DELETE, params)

    async def forget_user(self, scope: Scope) -> None:
        """Nothing to do: the rows go with the user's sessions (foreign-key cascade)."""

    async def purge_expired(self) -> int:
        """Drop entries past their window (Redis does this itself with TTLs)."""
        async with transaction(self._engine, SYSTEM) as conn:  # every scope's expired rows
            return (await conn.execute(_PG_PURGE, {"now": self._clock()})).rowcount

    async def close(self) -> None:
        return None
