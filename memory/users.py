"""The tenants and users rows that every tier hangs off. Writes create them on first use so
the library works without a provisioning step; deleting a user cascades to all their data."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from memory.domain import Scope
from memory.sql import scope_params

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
