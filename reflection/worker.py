"""The reflection worker: the jobs of `reflection.jobs`, as the scheduler and the tests run
them — each on its own interval, or every one once in the order their outputs feed each
other (`tick`)."""

import uuid
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.domain import Clock, Scope
from memory.core.settings import ReflectionSettings
from memory.infra.embedder import Embedder
from memory.infra.llm import LLM
from reflection.extraction import Extractor
from reflection.jobs.base import Stores, Tools
from reflection.jobs.ending import Ending
from reflection.jobs.extract import Extraction
from reflection.jobs.housekeeping import Housekeeping
from reflection.jobs.reflect import Reflection
from reflection.kinds import KindReader
from reflection.ledger import Ledger

__all__ = ["Stores", "Worker"]


class Worker:
    def __init__(
        self,
        engine: AsyncEngine,
        stores: Stores,
        extractor: Extractor,
        embedder: Embedder,
        llm: LLM | None,
        clock: Clock,
        settings: ReflectionSettings,
        kinds: KindReader | None = None,
    ) -> None:
        self.ledger = Ledger(engine, clock)
        self.tools = Tools(
            engine, stores, extractor, embedder, llm, clock, settings, self.ledger, kinds
        )
        self._extraction = Extraction(self.tools)
        self._ending = Ending(self.tools, self._extraction.session)
        self._reflection = Reflection(self.tools)
        self._housekeeping = Housekeeping(self.tools)

    async def tick(self) -> Counter[str]:
        """Every job once, in the order their outputs feed each other."""
        done: Counter[str] = Counter()
        done["extracted_sessions"] += await self.extract_due()
        done.update(await self.lifecycle())
        done["embedded"] += await self.embed()
        done["resealed"] += await self.reseal()
        done["reflected_users"] += await self.reflect_due()
        return done

    async def lifecycle(self) -> Counter[str]:
        """The sweep of DESIGN §5: expire idle sessions, end the hard-expired ones, delete
        raw messages past retention, drop expired hot-state rows."""
        done = await self._housekeeping.sweep()
        done["ended_sessions"] += await self._ending.due()
        done["deleted_raw"] += await self._housekeeping.retention()
        done["purged_cache"] += await self._housekeeping.purge_cache()
        return done

    async def extract_due(self) -> int:
        return await self._extraction.due()

    async def extract_session(self, scope: Scope, sid: uuid.UUID) -> bool:
        return await self._extraction.session(scope, sid)

    async def end_due(self) -> int:
        return await self._ending.due()

    async def end_session(self, scope: Scope, sid: uuid.UUID) -> bool:
        return await self._ending.session(scope, sid)

    async def reflect_due(self) -> int:
        return await self._reflection.due()

    async def reflect_user(self, scope: Scope) -> bool:
        return await self._reflection.user(scope)

    async def embed(self) -> int:
        return await self._housekeeping.embed()

    async def reseal(self) -> int:
        return await self._housekeeping.reseal()

    async def retention(self) -> int:
        return await self._housekeeping.retention()
