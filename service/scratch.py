"""Scratch databases for the demo, the evals and the benchmarks: a fresh, migrated database
on the embedded Postgres (unless a server URL is given), dropped and created anew each run."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from memory.infra.database import async_url, ensure_vector_extension, make_engine
from memory.infra.embedded import EmbeddedPostgres
from memory.infra.migrate import upgrade


@asynccontextmanager
async def fresh_database(name: str, server_url: str | None, data_dir: str) -> AsyncIterator[str]:
    """Yield the SQLAlchemy URL of a new database `name`, migrated to head."""
    server: EmbeddedPostgres | None = None
    if server_url is None:
        server = await asyncio.to_thread(EmbeddedPostgres, Path(data_dir))
        server_url = server.url("postgres")
    # The login role itself (not the confined app role): it creates and drops databases.
    admin = create_async_engine(async_url(server_url), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url = make_url(async_url(server_url)).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url, 1)
    await ensure_vector_extension(engine)
    await upgrade(engine, 384)
    await engine.dispose()
    try:
        yield url
    finally:
        if server is not None:
            await asyncio.to_thread(server.release)


class SimClock:
    """Simulated time for replays: the caller moves it, everything built with it reads it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now
