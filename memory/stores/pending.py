"""Embeds, in batches, the rows that were written without a vector, so that appends never
wait for the model. The worker calls `embed_pending`; several workers may run it at once,
since each claims its batch with `FOR UPDATE SKIP LOCKED`."""

import logging
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.crypto import DISABLED, Cipher
from memory.core.sql import vector_literal
from memory.infra.embedder import Embedder
from memory.infra.rls import SYSTEM, transaction

log = logging.getLogger(__name__)

_BACKLOG = text("""
SELECT (SELECT count(*) FROM messages WHERE embedding IS NULL)
     + (SELECT count(*) FROM facts WHERE embedding IS NULL) AS unembedded,
       (SELECT count(*) FROM sessions WHERE last_seq > extracted_seq) AS unextracted
""")


@dataclass(frozen=True, slots=True)
class BacklogSizes:
    unembedded: int  # messages and facts waiting for a vector
    unextracted: int  # sessions with messages the worker has not read yet


class Backlog:
    """What waits for the worker, service-wide (for the metrics)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def sizes(self) -> BacklogSizes:
        async with transaction(self._engine, SYSTEM) as conn:
            row = (await conn.execute(_BACKLOG)).one()
        return BacklogSizes(int(row.unembedded), int(row.unextracted))


# table -> its text column. A system job: it reads rows of every scope to fill their own
# vectors and writes each vector back to the row it came from, never across rows.
_TEXT_COLUMNS = {
    "messages": "content",
    "facts": "text",
    "knowledge": "text",
    "session_summaries": "text",
}
_KEY_COLUMN = {"messages": "key_id"}  # tables whose text may be sealed
_CLAIM = {
    table: text(
        f"SELECT id, tenant_id, user_id, {column} AS body, "
        f"{_KEY_COLUMN.get(table, 'NULL::text')} AS key_id FROM {table} "
        "WHERE embedding IS NULL ORDER BY created_at LIMIT :limit FOR UPDATE SKIP LOCKED"
    )
    for table, column in _TEXT_COLUMNS.items()
}
_FILL = {
    table: text(
        f"UPDATE {table} AS t SET embedding = CAST(v.embedding AS vector) "
        "FROM unnest(CAST(:ids AS uuid[]), CAST(:embeddings AS text[])) AS v(id, embedding) "
        "WHERE t.id = v.id"
    )
    for table in _TEXT_COLUMNS
}


async def embed_batch(
    engine: AsyncEngine, embedder: Embedder, table: str, limit: int, cipher: Cipher = DISABLED
) -> int:
    """Embed up to `limit` rows of one table; return how many were embedded. Sealed
    messages are opened in memory for the model; only the vector is written."""
    async with transaction(engine, SYSTEM) as conn:
        rows = (await conn.execute(_CLAIM[table], {"limit": limit})).all()
        if not rows:
            return 0
        bodies = [
            cipher.open_message(row.tenant_id, row.user_id, row.id, row.key_id, row.body)
            for row in rows
        ]
        vectors = await embedder.embed(bodies)
        await conn.execute(
            _FILL[table],
            {"ids": [row.id for row in rows], "embeddings": [vector_literal(v) for v in vectors]},
        )
    return len(rows)


async def embed_pending(
    engine: AsyncEngine,
    embedder: Embedder,
    *,
    batch_size: int = 64,
    max_rows: int = 10_000,
    cipher: Cipher = DISABLED,
) -> int:
    """Embed every row still without a vector, at most `max_rows` per call, per table."""
    total = 0
    for table in _TEXT_COLUMNS:
        done = 0
        while done < max_rows:
            limit = min(batch_size, max_rows - done)
            count = await embed_batch(engine, embedder, table, limit, cipher)
            done += count
            if count == 0:
                break
        total += done
    if total:
        log.info("embedded pending rows", extra={"rows": total})
    return total
