"""Isolation: everything (tenant A, user 1) owns is invisible and untouchable for
(tenant A, user 2) and for (tenant B, user 1), through every store method and recall."""

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.domain import Scope
from memory.core.errors import InvalidInput, NotFound
from memory.core.records import Fact, Knowledge, Message
from memory.core.settings import RecallSettings
from memory.infra.embedder import SentenceTransformerEmbedder
from memory.stores.facts import FactStore
from memory.stores.journal import JournalStore, note
from memory.stores.knowledge import KnowledgeStore
from memory.stores.pending import embed_pending
from memory.stores.recall import Recall
from memory.stores.summaries import SummaryStore
from memory.stores.transcripts import TranscriptStore
from tests.conftest import TravelClock

OWNER = Scope("tenant-a", "user-1")
STRANGERS = [Scope("tenant-a", "user-2"), Scope("tenant-b", "user-1")]


@dataclass
class World:
    transcripts: TranscriptStore
    facts: FactStore
    knowledge: KnowledgeStore
    summaries: SummaryStore
    journal: JournalStore
    recall: Recall
    session: uuid.UUID
    message: Message
    fact: Fact
    insight: Knowledge


@pytest.fixture
async def world(
    engine: AsyncEngine, clock: TravelClock, embedder: SentenceTransformerEmbedder
) -> World:
    transcripts = TranscriptStore(engine, clock, 32_000)
    facts = FactStore(engine, clock, 32_000)
    knowledge = KnowledgeStore(engine, clock, 32_000)
    summaries = SummaryStore(engine, clock, 32_000)
    journal = JournalStore(engine, clock, 200_000)
    session = uuid.uuid4()
    message = await transcripts.append(OWNER, session, "user", "My secret project is Nightjar")
    fact = await facts.insert(
        OWNER, "plan", "Works on project Nightjar", source_message_ids=[message.id]
    )
    insight = await knowledge.add(OWNER, "Nightjar matters to them", [fact.id])
    await summaries.put(
        OWNER, session, "Discussed Nightjar", started_at=clock.now, ended_at=clock.now
    )
    await journal.append(OWNER, [note("The Nightjar story so far")])
    await embed_pending(engine, embedder)
    recall = Recall(engine, embedder, RecallSettings(), clock, 32_000)
    return World(
        transcripts, facts, knowledge, summaries, journal, recall, session, message, fact, insight
    )


@pytest.mark.parametrize("stranger", STRANGERS, ids=["same-tenant", "other-tenant"])
async def test_transcripts_are_isolated(world: World, stranger: Scope) -> None:
    t = world.transcripts
    assert await t.get_many(stranger, [world.message.id]) == []
    with pytest.raises(NotFound):
        await t.window(stranger, world.session)
    assert await t.archive(stranger, world.session) == 0
    assert await t.delete(stranger, [world.message.id]) == 0
    # Idempotency keys are per user: the same key is a new message for someone else.
    key = world.message.idempotency_key
    theirs = await t.append(stranger, uuid.uuid4(), "user", "hello", idempotency_key=key)
    assert theirs.id != world.message.id
    assert (await t.window(OWNER, world.session))[0] == world.message
    # The owner's session id, used by the stranger, is a session of the stranger's own.
    await t.append(stranger, world.session, "user", "mine")
    assert [m.content for m in await t.window(OWNER, world.session)] == [world.message.content]


@pytest.mark.parametrize("stranger", STRANGERS, ids=["same-tenant", "other-tenant"])
async def test_facts_are_isolated(world: World, stranger: Scope) -> None:
    f = world.facts
    assert await f.list_facts(stranger, include_superseded=True) == []
    assert await f.get_many(stranger, [world.fact.id]) == []
    with pytest.raises(NotFound):
        await f.supersede(stranger, world.fact.id, "plan", "hijacked")
    assert await f.delete(stranger, [world.fact.id]) == 0
    same_text = await f.insert(stranger, "plan", "Works on project Nightjar")
    assert same_text.id != world.fact.id, "dedup must never merge across users"
    assert await f.list_facts(OWNER) == [world.fact]


@pytest.mark.parametrize("stranger", STRANGERS, ids=["same-tenant", "other-tenant"])
async def test_knowledge_is_isolated(world: World, stranger: Scope) -> None:
    k = world.knowledge
    assert await k.list_knowledge(stranger, include_retired=True) == []
    assert await k.get_many(stranger, [world.insight.id]) == []
    with pytest.raises(NotFound):
        await k.revise(stranger, world.insight.id, "hijacked", [world.fact.id])
    with pytest.raises(NotFound):
        await k.retire(stranger, world.insight.id)
    with pytest.raises(InvalidInput):
        await k.add(stranger, "cites a stranger's fact", [world.fact.id])
    assert await k.list_knowledge(OWNER) == [world.insight]


@pytest.mark.parametrize("stranger", STRANGERS, ids=["same-tenant", "other-tenant"])
async def test_summaries_are_isolated(world: World, stranger: Scope, clock: TravelClock) -> None:
    s = world.summaries
    assert await s.latest(stranger) == []
    with pytest.raises(NotFound):
        await s.get(stranger, world.session)
    with pytest.raises(NotFound):
        await s.put(stranger, world.session, "overwrite", started_at=clock.now, ended_at=clock.now)
    assert (await s.get(OWNER, world.session)).text == "Discussed Nightjar"


@pytest.mark.parametrize("stranger", STRANGERS, ids=["same-tenant", "other-tenant"])
async def test_journal_is_isolated(world: World, stranger: Scope) -> None:
    j = world.journal
    assert await j.latest(stranger) is None
    assert await j.versions(stranger) == []
    with pytest.raises(NotFound):
        await j.get(stranger, 1)
    theirs = await j.append(stranger, [note("their own story")], expected_version=0)
    assert theirs.version == 1
    assert [e.sections for e in await j.versions(OWNER)] == [(note("The Nightjar story so far"),)]


@pytest.mark.parametrize("stranger", STRANGERS, ids=["same-tenant", "other-tenant"])
async def test_recall_is_isolated(world: World, stranger: Scope) -> None:
    assert await world.recall.recall(stranger, "Nightjar project", k=10) == []
    owner_hits = await world.recall.recall(OWNER, "Nightjar project", k=10)
    assert len(owner_hits) == 3, "the insight retells only the message already in full"
