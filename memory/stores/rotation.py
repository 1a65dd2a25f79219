"""Key rotation: re-seal, in batches, every message and session context that is not sealed
with the active key (plaintext rows included, when encryption has just been turned on).
Several workers may run it at once: each claims its batch with `FOR UPDATE SKIP LOCKED`.
A row sealed with a key that is no longer configured stops the pass with `KeyMissing`."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.crypto import Cipher
from memory.infra.rls import SYSTEM, transaction
from memory.stores import session_rows

# A system job: it reads rows of every scope and writes each back to the row it came from,
# sealed for that row's own tenant, user and id.
_STALE_MESSAGES = text("""
SELECT id, tenant_id, user_id, content, key_id FROM messages
WHERE key_id IS NULL OR key_id <> :active
LIMIT :limit FOR UPDATE SKIP LOCKED
""")
_RESEAL_MESSAGES = text("""
UPDATE messages AS m SET content = v.content, key_id = :active
FROM unnest(CAST(:ids AS uuid[]), CAST(:contents AS text[])) AS v(id, content)
WHERE m.id = v.id
""")
_STALE_CONTEXTS = text("""
SELECT id, tenant_id, user_id, context FROM sessions
WHERE CASE WHEN context ? 'sealed' THEN context->>'key_id' <> :active
           ELSE context <> '{}'::jsonb END
LIMIT :limit FOR UPDATE SKIP LOCKED
""")
_COUNTS = text("""
SELECT coalesce(key_id, '(plaintext)') AS key_id, count(*) AS n FROM messages GROUP BY 1
""")


class KeyRotation:
    """Re-seal what an older key sealed with the active one, and count rows per key."""

    def __init__(self, engine: AsyncEngine, cipher: Cipher) -> None:
        self._engine = engine
        self._cipher = cipher

    async def reseal_batch(self, limit: int = 500) -> int:
        """Re-seal up to `limit` messages and `limit` session contexts; how many were done."""
        cipher = self._cipher
        active = cipher.active
        if active is None:
            return 0
        async with transaction(self._engine, SYSTEM) as conn:
            rows = (await conn.execute(_STALE_MESSAGES, {"active": active, "limit": limit})).all()
            contents = []
            for row in rows:
                plain = cipher.open_message(
                    row.tenant_id, row.user_id, row.id, row.key_id, row.content
                )
                contents.append(cipher.seal_message(row.tenant_id, row.user_id, row.id, plain)[1])
            if rows:
                params = {"active": active, "ids": [r.id for r in rows], "contents": contents}
                await conn.execute(_RESEAL_MESSAGES, params)
            sessions = (
                await conn.execute(_STALE_CONTEXTS, {"active": active, "limit": limit})
            ).all()
            for row in sessions:
                plain = cipher.open_context(row.tenant_id, row.user_id, row.id, row.context)
                sealed = cipher.seal_context(row.tenant_id, row.user_id, row.id, plain)
                await session_rows.reseal_context(conn, row.id, sealed)
        return len(rows) + len(sessions)

    async def reseal_all(self, limit: int = 500) -> int:
        """Batches until nothing is left; the total re-sealed."""
        total = 0
        while count := await self.reseal_batch(limit):
            total += count
        return total

    async def key_counts(self) -> dict[str, int]:
        """Messages per key id, "(plaintext)" for rows stored in the clear."""
        async with transaction(self._engine, SYSTEM) as conn:
            return {row.key_id: int(row.n) for row in (await conn.execute(_COUNTS)).all()}
