"""Claims make every job run exactly once across workers: a Postgres advisory lock per
(job, scope), held on its own connection for the job's duration and released when the job
ends or its worker dies (the connection goes with it)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.infra.rls import connection

_TRY = text("SELECT pg_try_advisory_lock(hashtextextended(:key, 11))")
_RELEASE = text("SELECT pg_advisory_unlock(hashtextextended(:key, 11))")


@asynccontextmanager
async def claim(engine: AsyncEngine, key: str) -> AsyncIterator[bool]:
    """Yield True if this worker holds `key` now, False if another one does."""
    async with connection(engine) as conn:
        held = bool(await conn.scalar(_TRY, {"key": key}))
        await conn.commit()
        try:
            yield held
        finally:
            if held:
                await conn.scalar(_RELEASE, {"key": key})
                await conn.commit()
