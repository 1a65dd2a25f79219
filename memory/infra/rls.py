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
login role for their own transaction (`owner_transaction`).

Every transaction of the service passes through here, so this is also where driver errors
become domain errors (`translated`): bad data is `InvalidInput`, an unreachable or
overloaded database `BackendUnavailable`, a violated constraint `ConstraintViolation` — for the API,
the worker, the CLI and the MCP server alike.

A background job that acts for one user holds a `lease` on that user: inside it, every
transaction of that scope first checks (and share-locks) the user row of the incarnation
the job started with, so a forget that commits while the job runs makes the job's next
write fail with `Forgotten` instead of re-creating the user."""

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from memory.core.domain import Scope
from memory.core.errors import (
    BackendUnavailable,
    ConstraintViolation,
    Forgotten,
    InvalidInput,
    MemstrataError,
)

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


@dataclass(frozen=True, slots=True)
class Lease:
    """A job's hold on one user: the incarnation of the user row it started with."""

    scope: Scope
    incarnation: uuid.UUID


_LEASE: ContextVar[Lease | None] = ContextVar("memstrata_lease", default=None)
_INCARNATION = text("SELECT incarnation FROM users WHERE tenant_id = :tenant_id AND id = :user_id")
# KEY SHARE: a concurrent forget (DELETE of the user row) waits for this transaction, and
# this transaction waits for a forget in flight, then finds the row gone.
_HELD = text(
    "SELECT 1 FROM users WHERE tenant_id = :tenant_id AND id = :user_id "
    "AND incarnation = :incarnation FOR KEY SHARE"
)


async def bind(conn: AsyncConnection, access: Access) -> None:
    """Name who the current transaction acts for (it begins one if none is open); inside a
    `lease` on this scope, also check that the user is still the one the job started with."""
    await conn.execute(_BIND, _variables(access))
    lease = _LEASE.get()
    if lease is not None and isinstance(access, Scope) and lease.scope == access:
        params = {**_variables(access), "incarnation": lease.incarnation}
        if await conn.scalar(_HELD, params) is None:
            raise Forgotten(f"{access.tenant_id}/{access.user_id} was forgotten during the job")


@asynccontextmanager
async def lease(engine: AsyncEngine, scope: Scope) -> AsyncIterator[bool]:
    """Hold the user for a job: yields False if the user does not exist (nothing to do);
    inside, any transaction of `scope` raises `Forgotten` once the user is forgotten."""
    async with transaction(engine, scope) as conn:
        incarnation = await conn.scalar(_INCARNATION, _variables(scope))
    if incarnation is None:
        yield False
        return
    token = _LEASE.set(Lease(scope, incarnation))
    try:
        yield True
    finally:
        _LEASE.reset(token)


# SQLSTATE classes: https://www.postgresql.org/docs/current/errcodes-appendix.html
_UNAVAILABLE_STATES = ("08", "53", "57P", "40")  # connection, resources, shutdown, retryable
_BAD_CHARACTER = ("22P05", "22021")


def domain_error(error: BaseException) -> MemstrataError | None:
    """The domain error a driver error means, or None for one that is a bug of ours."""
    if isinstance(error, exc.DBAPIError):
        state = str(getattr(error.orig, "sqlstate", None) or "")
        if error.connection_invalidated or isinstance(
            error, exc.OperationalError | exc.InterfaceError
        ):
            return BackendUnavailable(f"database unreachable ({state or 'connection lost'})")
        if state.startswith(_UNAVAILABLE_STATES):
            return BackendUnavailable(f"database busy or unavailable ({state}); retry")
        if state in _BAD_CHARACTER:
            return InvalidInput("input", "text must not contain NUL characters")
        if state.startswith("22"):
            return InvalidInput("input", f"a value the database cannot store ({state})")
        if state.startswith("23"):
            return ConstraintViolation(f"the write conflicts with stored data ({state})")
        return None
    if isinstance(error, ConnectionError | OSError | TimeoutError):
        return BackendUnavailable(f"database unreachable ({type(error).__name__})")
    return None


@contextmanager
def translated() -> Iterator[None]:
    """Raise driver errors as the domain errors they mean (see `domain_error`)."""
    try:
        yield
    except (exc.DBAPIError, OSError, TimeoutError) as error:
        mapped = domain_error(error)
        if mapped is None:
            raise
        raise mapped from error


@asynccontextmanager
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose driver errors come out as domain errors; the caller begins and
    binds its own transactions (for the few that manage them by hand)."""
    with translated():
        async with engine.connect() as conn:
            yield conn


@asynccontextmanager
async def unscoped_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction on the tables no policy covers (tenants and their API keys): nothing to
    bind, errors translated like every other transaction."""
    with translated():
        async with engine.begin() as conn:
            yield conn


@asynccontextmanager
async def transaction(engine: AsyncEngine, access: Access) -> AsyncIterator[AsyncConnection]:
    """A transaction that sees and writes only the rows of `access`; commits on success."""
    with translated():
        async with engine.begin() as conn:
            await bind(conn, access)
            yield conn


@asynccontextmanager
async def owner_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction as the login role itself, for migrations and DDL: it may create
    extensions and tables, and it sees every row."""
    with translated():
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
