"""Opens the one relational store: the async engine on the configured Postgres, or on the
embedded one when no URL is set, after checking that pgvector is there."""

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from memory.core.errors import BackendUnavailable, ConfigurationError
from memory.core.settings import Settings
from memory.infra.embedded import EmbeddedPostgres
from memory.infra.rls import confine, connection, owner_transaction

log = logging.getLogger(__name__)

_VECTOR_HELP = (
    "the `vector` extension (pgvector >= 0.8) is required: install pgvector for this "
    "Postgres server and run `CREATE EXTENSION vector;` as a superuser in this database, "
    "or unset MEMSTRATA_DATABASE_URL to use the embedded Postgres that ships with it"
)


@dataclass
class Database:
    """The engine, and the embedded server when there is one."""

    engine: AsyncEngine
    embedded: EmbeddedPostgres | None = None

    async def ping(self) -> None:
        """Raises unless Postgres answers a query."""
        async with connection(self.engine) as conn:  # a driver error becomes a domain one
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self.embedded is not None:  # so that nothing starts it again while we let go
            await asyncio.to_thread(self.embedded.stop_supervising)
        await self.engine.dispose()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.release)


def async_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and use the asyncpg driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def make_engine(url: str, pool_size: int) -> AsyncEngine:
    """The pooled engine every store uses; its connections are bound by row-level security
    (see `memory.infra.rls`)."""
    return confine(
        create_async_engine(
            async_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
    )


async def ensure_vector_extension(engine: AsyncEngine) -> None:
    """Create pgvector if it is missing; say how to fix it if that is not possible."""
    try:
        async with owner_transaction(engine) as conn:
            installed = await conn.scalar(
                text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            )
            if installed is None:
                await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    except OperationalError as exc:
        raise BackendUnavailable(f"cannot reach Postgres: {exc.orig}") from exc
    except DBAPIError as exc:
        raise ConfigurationError(f"{_VECTOR_HELP} (Postgres said: {exc.orig})") from exc
    except OSError as exc:
        raise BackendUnavailable(f"cannot reach Postgres: {exc}") from exc


async def open_database(settings: Settings) -> Database:
    """Connect to `settings.database_url`, or start/reuse the embedded Postgres and keep it
    running (a supervisor thread starts it again when it dies, until `close()`)."""
    embedded: EmbeddedPostgres | None = None
    url = settings.database_url
    if url is None:
        embedded = await asyncio.to_thread(EmbeddedPostgres, settings.data_dir)
        await asyncio.to_thread(embedded.ensure_database)
        url = embedded.url()
    database = Database(make_engine(url, settings.db_pool_size), embedded)
    if embedded is not None:
        embedded.follow(database.engine)
        embedded.supervise()
    try:
        await ensure_vector_extension(database.engine)
    except BaseException:
        await database.close()
        raise
    return database
