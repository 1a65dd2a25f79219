"""Housekeeping: the lifecycle sweep (idle sessions to soft and hard expiry, tenant by
tenant with each tenant's windows), retention of archived raw messages, the embedding
backlog, and key rotation in the background. One tenant's failure is logged, counted and
recorded as a failed run, and stops no other tenant's."""

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta

from memory.stores.pending import embed_pending
from memory.stores.rotation import KeyRotation
from memory.stores.session_store import PostgresSessionStore
from reflection.jobs.base import Tools

log = logging.getLogger(__name__)


class Housekeeping:
    def __init__(self, tools: Tools) -> None:
        self._t = tools
        self._s = tools.stores
        self._rotation = KeyRotation(tools.engine, tools.stores.cipher)

    async def sweep(self) -> Counter[str]:
        """Expire idle sessions, tenant by tenant."""
        done: Counter[str] = Counter()
        for tenant_id in await self._s.sessions.tenants_to_sweep():
            done.update(await self._for_tenant("sweep", tenant_id, self._s.sessions.sweep))
        return done

    async def retention(self) -> int:
        """Delete raw messages past each tenant's retention window, tenant by tenant."""
        done: Counter[str] = Counter()
        async with self._t.ledger.run("retention"):
            for tenant_id in await self._s.tenants.tenant_ids():
                done.update(await self._for_tenant("retention", tenant_id, self._retain))
        return done["deleted_raw"]

    async def purge_cache(self) -> int:
        """Expired hot-state rows, when the hot state lives in Postgres (Redis expires its
        own)."""
        store = self._s.session_store
        return await store.purge_expired() if isinstance(store, PostgresSessionStore) else 0

    async def embed(self) -> int:
        return await embed_pending(self._t.engine, self._t.embedder, cipher=self._s.cipher)

    async def reseal(self) -> int:
        """Key rotation in the background: re-seal one batch of rows not sealed with the
        active key (nothing to do while encryption is off)."""
        if not self._s.cipher.enabled:
            return 0
        async with self._t.ledger.run("reseal") as run:
            count = await self._rotation.reseal_batch()
            run.status = "ok"
        return count

    async def _retain(self, tenant_id: str) -> Counter[str]:
        windows = await self._s.tenants.lifecycle(tenant_id)
        before = self._t.clock() - timedelta(seconds=windows.retention_s)
        return Counter(deleted_raw=await self._s.transcripts.delete_archived(tenant_id, before))

    async def _for_tenant(
        self, kind: str, tenant_id: str, job: Callable[[str], Awaitable[Counter[str]]]
    ) -> Counter[str]:
        """One tenant's share of a sweep, as a job boundary of its own."""
        try:
            return await job(tenant_id)
        except Exception as exc:
            log.exception("%s failed for tenant %s", kind, tenant_id, extra={"tenant": tenant_id})
            await self._t.ledger.failed(kind, tenant_id, exc)
            return Counter(failed_tenants=1)
