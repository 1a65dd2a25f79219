"""Row-level security, the second line behind every store's WHERE clause.

Migration 0008 puts a policy on every table holding a user's data: a row is visible and
writable only when the transaction's session variables name its tenant and user. Stores
open every transaction through `transaction(engine, access)`, which sets them with
`set_config(..., is_local => true)`, so they end with the transaction and a pooled
connection carries nothing to its next user. A transaction that sets nothing sees nothing.

Three kinds of access: a `Scope` (one user: what almost everything uses), `TenantWide`
(every user of one tenant: tenant administration), and `SYSTEM` (the worker's sweeps that
find due work across tenants, then act on each user in that user's scope).

Superusers and BYPASSRLS roles are exempt from policies, so a login with either attribute
is switched to the unprivileged role `APP_ROLE` on connect; migrations step back to the
login role for their own transaction (`owner_transaction`)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from memory.domain import Scope

APP_ROLE: Final = "memstrata_app"
ALL_USERS: Final = "*"  # cannot be a user id: those start with a letter or digit


@dataclass(frozen=True, slots=True)
class TenantWide:
    """Every user of one tenant."""

    tenant_id: str


@dataclass(frozen=True, slots=True)
class _System:
    def __repr__(self) -> str:
        return "SYSTEM"


SYSTEM: Final = _System()

Access = Scope | TenantWide | _System

_BIND = text(
    "SELECT set_config('memstrata.system', :system, true), "
    "set_config('memstrata.tenant_id', :tenant_id, true), "
    "set_config('memstrata.user_id', :user_id, true)"
)


def _variables(access: Access) -> dict[str, str]:
    if isinstance(access, Scope):
        return {"system": "off", "tenant_id": access.tenant_id, "user_id": access.user_id}
    if isinstance(access, TenantWide):
        return {"system": "off", "tenant_id": access.tenant_id, "user_id": ALL_USERS}
    return {"system": "on", "tenant_id": "", "user_id": ""}


async def bind(conn: AsyncConnection, access: Access) -> None:
    """Name who the current transaction acts for (it begins one if none is open)."""
    await conn.execute(_BIND, _variables(access))


@asynccontextmanager
async def transaction(engine: AsyncEngine, access: Access) -> AsyncIterator[AsyncConnection]:
    """A transaction that sees and writes only the rows of `access`; commits on success."""
    async with engine.begin() as conn:
        await bind(conn, access)
        yield conn


@asynccontextmanager
async def owner_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction as the login role itself, for migrations and DDL: it may create
    extensions and tables, and it sees every row."""
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL ROLE NONE"))
        await bind(conn, SYSTEM)
        yield conn


_PRIVILEGED = "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
# Roles are global to the server; two databases may be set up at once, hence the handler.
_CREATE_ROLE = f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$
"""
GRANTS = (
    f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}",
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}",
    f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}",
)


async def _drop_privileges(driver: Any) -> None:
    if await driver.fetchval(_PRIVILEGED):
        await driver.execute(_CREATE_ROLE)
        await driver.execute(f"SET ROLE {APP_ROLE}")


def confine(engine: AsyncEngine) -> AsyncEngine:
    """Make every new connection of `engine` one that policies bind."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Outside any transaction (asyncpg's own execute), so no rollback undoes it.
        dbapi_connection.run_async(_drop_privileges)

    return engine


async def grant_app_role(conn: AsyncConnection) -> None:
    """Give `APP_ROLE` the data privileges on every table (not TRUNCATE, which ignores
    policies); nothing to do when the login role is an ordinary one."""
    if await conn.scalar(text(_PRIVILEGED)):
        await conn.execute(text(_CREATE_ROLE))
        for grant in GRANTS:
            await conn.execute(text(grant))
