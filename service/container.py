"""The composition root: builds every long-lived object once, from one `Settings`, in the
app's lifespan or a command's main, and closes them in reverse order."""

import logging
from dataclasses import dataclass

from memory.database import Database, open_database
from memory.domain import Clock, system_clock
from memory.embedder import Embedder, make_embedder
from memory.facts import FactStore
from memory.journal import JournalStore
from memory.knowledge import KnowledgeStore
from memory.migrate import upgrade
from memory.recall import Recall
from memory.session_store import PostgresSessionStore, RedisSessionStore, SessionStore
from memory.sessions import Sessions
from memory.settings import Settings
from memory.summaries import SummaryStore
from memory.tenants import TenantStore
from memory.transcripts import TranscriptStore

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    database: Database
    clock: Clock
    embedder: Embedder
    transcripts: TranscriptStore
    facts: FactStore
    knowledge: KnowledgeStore
    summaries: SummaryStore
    journal: JournalStore
    recall: Recall
    tenants: TenantStore
    session_store: SessionStore
    sessions: Sessions

    async def close(self) -> None:
        await self.session_store.close()
        await self.embedder.close()
        await self.database.close()


async def build_container(settings: Settings, *, clock: Clock = system_clock) -> Container:
    """Open the database (embedded by default), migrate it to head, and wire the stores."""
    database = await open_database(settings)
    try:
        await upgrade(database.engine, settings.embedding.dim)
    except BaseException:
        await database.close()
        raise
    engine = database.engine
    chars = settings.max_content_chars
    embedder = make_embedder(settings.embedding, settings.llm)
    transcripts = TranscriptStore(engine, clock, chars)
    tenants = TenantStore(engine, settings.lifecycle, settings.session.tenant_cache_s)
    session_store: SessionStore = (
        RedisSessionStore(settings.redis_url, settings.session.redis_timeout_s)
        if settings.redis_url
        else PostgresSessionStore(engine, clock)
    )
    return Container(
        settings=settings,
        database=database,
        clock=clock,
        embedder=embedder,
        transcripts=transcripts,
        facts=FactStore(engine, clock, chars),
        knowledge=KnowledgeStore(engine, clock, chars),
        summaries=SummaryStore(engine, clock, chars),
        journal=JournalStore(engine, clock, settings.max_journal_chars),
        recall=Recall(engine, embedder, settings.recall, clock, chars),
        tenants=tenants,
        session_store=session_store,
        sessions=Sessions(
            engine,
            transcripts,
            session_store,
            tenants,
            clock,
            settings.lifecycle,
            settings.session,
        ),
    )
