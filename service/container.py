"""The composition root: builds every long-lived object once, from one `Settings`, in the
app's lifespan or a command's main, and closes them in reverse order."""

import logging
from dataclasses import dataclass

from memory.core.crypto import DISABLED, Cipher, build_cipher
from memory.core.domain import Clock, system_clock
from memory.core.errors import ConfigurationError
from memory.core.settings import Settings
from memory.infra.database import Database, open_database
from memory.infra.embedder import Embedder, make_embedder
from memory.infra.llm import LLM
from memory.infra.migrate import upgrade
from memory.stores.api_keys import ApiKeyStore
from memory.stores.facts import FactStore
from memory.stores.history import History
from memory.stores.journal import JournalStore
from memory.stores.knowledge import KnowledgeStore
from memory.stores.labels import Labels
from memory.stores.pending import Backlog
from memory.stores.recall import Recall
from memory.stores.rotation import KeyRotation
from memory.stores.session_store import PostgresSessionStore, RedisSessionStore, SessionStore
from memory.stores.sessions import Sessions
from memory.stores.summaries import SummaryStore
from memory.stores.tenants import TenantStore
from memory.stores.transcripts import TranscriptStore
from memory.stores.users import UserRecords, UserStyles
from reflection.curation import Curation
from reflection.extraction import Extractor, LLMExtractor, RuleExtractor
from reflection.kinds import KindReader
from reflection.ledger import Ledger
from reflection.worker import Stores, Worker
from resume.context import Resumer

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    database: Database
    clock: Clock
    embedder: Embedder
    llm: LLM | None
    transcripts: TranscriptStore
    facts: FactStore
    knowledge: KnowledgeStore
    summaries: SummaryStore
    journal: JournalStore
    recall: Recall
    tenants: TenantStore
    session_store: SessionStore
    sessions: Sessions
    worker: Worker
    resumer: Resumer
    api_keys: ApiKeyStore
    ledger: Ledger
    history: History
    records: UserRecords
    rotation: KeyRotation
    backlog: Backlog
    curation: Curation
    labels: Labels
    cipher: Cipher = DISABLED
    owns_embedder: bool = True  # False when the caller gave it, and closes it

    async def close(self) -> None:
        await self.session_store.close()
        if self.llm is not None:
            await self.llm.close()
        if self.owns_embedder:
            await self.embedder.close()
        await self.database.close()


def make_llm(settings: Settings) -> LLM | None:
    """The LLM when one is configured; `extraction=llm` without one is an error."""
    configured = settings.llm.base_url is not None and settings.llm.model is not None
    if settings.reflection.extraction == "llm" and not configured:
        raise ConfigurationError(
            "MEMSTRATA_REFLECTION__EXTRACTION=llm needs MEMSTRATA_LLM__BASE_URL and __MODEL"
        )
    if not configured or settings.reflection.extraction == "rules":
        return None
    return LLM(settings.llm)


async def migrated_database(settings: Settings) -> Database:
    """The database of the settings (embedded by default), migrated to head."""
    database = await open_database(settings)
    try:
        await upgrade(database.engine, settings.embedding.dim)
    except BaseException:
        await database.close()
        raise
    return database


async def build_container(
    settings: Settings, *, clock: Clock = system_clock, embedder: Embedder | None = None
) -> Container:
    """Open the database (embedded by default), migrate it to head, and wire everything.
    `embedder` replaces the one of the settings (tests share one loaded model)."""
    llm = make_llm(settings)
    cipher = build_cipher(settings.encryption)  # bad keys stop the start, before anything
    database = await migrated_database(settings)
    engine = database.engine
    chars = settings.max_content_chars
    given = embedder
    embedder = given or make_embedder(settings.embedding, settings.llm)
    transcripts = TranscriptStore(engine, clock, chars, cipher)
    tenants = TenantStore(
        engine, settings.lifecycle, settings.session.tenant_cache_s, settings.resumption
    )
    session_store: SessionStore = (
        RedisSessionStore(settings.redis_url, settings.session.redis_timeout_s, cipher)
        if settings.redis_url
        else PostgresSessionStore(engine, clock, cipher)
    )
    sessions = Sessions(
        engine,
        transcripts,
        session_store,
        tenants,
        clock,
        settings.session,
        cipher,
    )
    stores = Stores(
        transcripts=transcripts,
        facts=FactStore(engine, clock, chars),
        knowledge=KnowledgeStore(engine, clock, chars),
        summaries=SummaryStore(engine, clock, chars),
        journal=JournalStore(engine, clock, settings.max_journal_chars),
        sessions=sessions,
        session_store=session_store,
        tenants=tenants,
        styles=UserStyles(engine),
        cipher=cipher,
    )
    cap = settings.reflection.max_facts_per_message
    kinds = KindReader(embedder)
    extractor: Extractor = RuleExtractor(cap, kinds) if llm is None else LLMExtractor(llm, cap)
    worker = Worker(engine, stores, extractor, embedder, llm, clock, settings.reflection, kinds)
    recall = Recall(engine, embedder, settings.recall, clock, chars, cipher)
    resumer = Resumer(
        sessions,
        stores.summaries,
        stores.journal,
        stores.facts,
        recall,
        tenants,
        clock,
        stores.styles,
    )
    history = History(engine)
    return Container(
        settings=settings,
        database=database,
        clock=clock,
        embedder=embedder,
        llm=llm,
        transcripts=transcripts,
        facts=stores.facts,
        knowledge=stores.knowledge,
        summaries=stores.summaries,
        journal=stores.journal,
        recall=recall,
        tenants=tenants,
        session_store=session_store,
        sessions=sessions,
        worker=worker,
        resumer=resumer,
        api_keys=ApiKeyStore(engine, clock),
        ledger=worker.ledger,
        history=history,
        records=UserRecords(engine, session_store, cipher),
        rotation=KeyRotation(engine, cipher),
        backlog=Backlog(engine),
        curation=Curation(
            stores.facts,
            stores.knowledge,
            embedder,
            worker.ledger,
            clock,
            worker.tools.redactor_for,
            sessions,
        ),
        labels=Labels(engine, sessions, history),
        cipher=cipher,
        owns_embedder=given is None,
    )
