"""Per-tenant API keys: created with 32 random bytes, shown once, stored as SHA-256, and
resolved to their tenant on every request. A key has a name, may expire, and may be revoked;
an expired or revoked key is refused like an unknown one."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.domain import Clock, aware, external_id
from memory.core.errors import InvalidInput, NotFound
from memory.infra.rls import unscoped_transaction

_PREFIX = "ms_"
_ENSURE_TENANT = text(
    "INSERT INTO tenants (id, name) VALUES (:tenant_id, :name) ON CONFLICT DO NOTHING"
)
_INSERT = text(
    "INSERT INTO api_keys (id, tenant_id, name, key_hash, expires_at) "
    "VALUES (:id, :tenant_id, :name, :hash, :expires_at)"
)
_RESOLVE = text(
    "SELECT tenant_id, id FROM api_keys WHERE key_hash = :hash AND revoked_at IS NULL "
    "AND (expires_at IS NULL OR expires_at > :now)"
)
_LIST = text(
    "SELECT id, name, created_at, expires_at, revoked_at FROM api_keys "
    "WHERE tenant_id = :tenant_id ORDER BY created_at, id"
)
_CHANGE = text(
    "UPDATE api_keys SET name = coalesce(:name, name), "
    "expires_at = CASE WHEN :set_expiry THEN CAST(:expires_at AS timestamptz) ELSE expires_at END "
    "WHERE tenant_id = :tenant_id AND id = :id "
    "RETURNING id, name, created_at, expires_at, revoked_at"
)
_REVOKE = text(
    "UPDATE api_keys SET revoked_at = :at WHERE tenant_id = :tenant_id AND id = :id "
    "AND revoked_at IS NULL"
)


@dataclass(frozen=True)
class NewKey:
    id: uuid.UUID
    tenant_id: str
    key: str  # the only time the key is visible
    name: str = "default"
    expires_at: datetime | None = None


@dataclass(frozen=True)
class KeyInfo:
    """What is known of a key after it was shown: never the key itself."""

    id: uuid.UUID
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyStore:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    async def create(
        self, tenant_id: str, name: str = "default", expires_at: datetime | None = None
    ) -> NewKey:
        """A new key for the tenant (created if it does not exist yet), valid until
        `expires_at` if given (which must be ahead)."""
        key = _PREFIX + secrets.token_urlsafe(32)
        created = NewKey(uuid.uuid4(), tenant_id, key, _name(name), self._ahead(expires_at))
        params = {
            "id": created.id,
            "tenant_id": external_id(tenant_id, "tenant_id"),
            "name": created.name,
            "hash": digest(key),
            "expires_at": created.expires_at,
        }
        async with unscoped_transaction(self._engine) as conn:
            await conn.execute(_ENSURE_TENANT, params)
            await conn.execute(_INSERT, params)
        return created

    def _ahead(self, expires_at: datetime | None) -> datetime | None:
        if expires_at is None:
            return None
        when = aware(expires_at, "expires_at")
        if when <= self._clock():
            raise InvalidInput("expires_at", "must be in the future")
        return when

    async def keys(self, tenant_id: str) -> list[KeyInfo]:
        """The tenant's keys, revoked and expired ones included, oldest first."""
        async with unscoped_transaction(self._engine) as conn:
            rows = (await conn.execute(_LIST, {"tenant_id": tenant_id})).all()
        return [KeyInfo(r.id, r.name, r.created_at, r.expires_at, r.revoked_at) for r in rows]

    async def change(
        self,
        tenant_id: str,
        key_id: uuid.UUID,
        *,
        name: str | None = None,
        expires_at: datetime | None = None,
        clear_expiry: bool = False,
    ) -> KeyInfo:
        """Rename a key, or set when it expires (or that it never does)."""
        params = {
            "tenant_id": tenant_id,
            "id": key_id,
            "name": None if name is None else _name(name),
            "set_expiry": expires_at is not None or clear_expiry,
            "expires_at": None if clear_expiry else self._ahead(expires_at),
        }
        async with unscoped_transaction(self._engine) as conn:
            row = (await conn.execute(_CHANGE, params)).first()
        if row is None:
            raise NotFound(f"api key {key_id} not found")
        return KeyInfo(row.id, row.name, row.created_at, row.expires_at, row.revoked_at)

    async def tenant_of(self, key: str) -> str | None:
        """The tenant a presented key belongs to, or None for an unknown or revoked key."""
        found = await self.resolve(key)
        return None if found is None else found[0]

    async def resolve(self, key: str) -> tuple[str, uuid.UUID] | None:
        """The tenant and the id of a presented key, or None for an unknown or revoked key."""
        if not key.startswith(_PREFIX) or len(key) > 200:
            return None
        params = {"hash": digest(key), "now": self._clock()}
        async with unscoped_transaction(self._engine) as conn:
            row = (await conn.execute(_RESOLVE, params)).first()
        return None if row is None else (str(row.tenant_id), row.id)

    async def revoke(self, tenant_id: str, key_id: uuid.UUID) -> None:
        """Refuse the key from now on (`NotFound` if the tenant has no such live key)."""
        params = {"tenant_id": tenant_id, "id": key_id, "at": self._clock()}
        async with unscoped_transaction(self._engine) as conn:
            if (await conn.execute(_REVOKE, params)).rowcount == 0:
                raise NotFound(f"api key {key_id} not found")


def _name(name: str) -> str:
    if not isinstance(name, str) or len(name) > 200:
        raise InvalidInput("name", "must be at most 200 characters")
    return name.strip() or "default"
