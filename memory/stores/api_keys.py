"""Per-tenant API keys: created with 32 random bytes, shown once, stored as SHA-256, and
resolved to their tenant on every request."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.domain import Clock, external_id
from memory.core.errors import NotFound
from memory.infra.rls import unscoped_transaction

_PREFIX = "ms_"
_ENSURE_TENANT = text(
    "INSERT INTO tenants (id, name) VALUES (:tenant_id, :name) ON CONFLICT DO NOTHING"
)
_INSERT = text(
    "INSERT INTO api_keys (id, tenant_id, name, key_hash) VALUES (:id, :tenant_id, :name, :hash)"
)
_RESOLVE = text("SELECT tenant_id, id FROM api_keys WHERE key_hash = :hash AND revoked_at IS NULL")
_REVOKE = text(
    "UPDATE api_keys SET revoked_at = :at WHERE tenant_id = :tenant_id AND id = :id "
    "AND revoked_at IS NULL"
)


@dataclass(frozen=True)
class NewKey:
    id: uuid.UUID
    tenant_id: str
    key: str  # the only time the key is visible


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyStore:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    async def create(self, tenant_id: str, name: str = "default") -> NewKey:
        """A new key for the tenant (created if it does not exist yet)."""
        key = _PREFIX + secrets.token_urlsafe(32)
        key_id = uuid.uuid4()
        params = {
            "id": key_id,
            "tenant_id": external_id(tenant_id, "tenant_id"),
            "name": name[:200] or "default",
            "hash": digest(key),
        }
        async with unscoped_transaction(self._engine) as conn:
            await conn.execute(_ENSURE_TENANT, params)
            await conn.execute(_INSERT, params)
        return NewKey(key_id, tenant_id, key)

    async def tenant_of(self, key: str) -> str | None:
        """The tenant a presented key belongs to, or None for an unknown or revoked key."""
        found = await self.resolve(key)
        return None if found is None else found[0]

    async def resolve(self, key: str) -> tuple[str, uuid.UUID] | None:
        """The tenant and the id of a presented key, or None for an unknown or revoked key."""
        if not key.startswith(_PREFIX) or len(key) > 200:
            return None
        async with unscoped_transaction(self._engine) as conn:
            row = (await conn.execute(_RESOLVE, {"hash": digest(key)})).first()
        return None if row is None else (str(row.tenant_id), row.id)

    async def revoke(self, tenant_id: str, key_id: uuid.UUID) -> None:
        params = {"tenant_id": tenant_id, "id": key_id, "at": self._clock()}
        async with unscoped_transaction(self._engine) as conn:
            if (await conn.execute(_REVOKE, params)).rowcount == 0:
                raise NotFound(f"api key {key_id} not found")
