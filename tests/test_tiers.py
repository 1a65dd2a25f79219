"""Facts, knowledge, session summaries and the journal on real Postgres: dedup, supersede
with "as of" reads, cited knowledge and its versions, rewritable summaries, and a journal
that keeps every version and refuses stale writers."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.domain import FactKind, Scope
from memory.core.errors import Conflict, InvalidInput, NotFound
from memory.stores.facts import FactStore
from memory.stores.journal import JournalStore, note
from memory.stores.knowledge import KnowledgeStore
from memory.stores.summaries import SummaryStore
from memory.stores.transcripts import TranscriptStore
from tests.conftest import TravelClock

ALICE = Scope("acme", "alice")


@pytest.fixture
def facts(engine: AsyncEngine, clock: TravelClock) -> FactStore:
    return FactStore(engine, clock, 32_000)


@pytest.fixture
def knowledge(engine: AsyncEngine, clock: TravelClock) -> KnowledgeStore:
    return KnowledgeStore(engine, clock, 32_000)


@pytest.fixture
def journal(engine: AsyncEngine, clock: TravelClock) -> JournalStore:
    return JournalStore(engine, clock, 200_000)


async def test_identical_current_facts_are_stored_once_with_all_sources(
    facts: FactStore,
) -> None:
    m1, m2 = uuid.uuid4(), uuid.uuid4()
    first = await facts.insert(ALICE, "preference", "Likes green tea.", source_message_ids=[m1])
    again = await facts.insert(ALICE, "preference", "likes  GREEN tea", source_message_ids=[m2])
    assert again.id == first.id
    assert set(again.source_message_ids) == {m1, m2}
    assert len(await facts.list_facts(ALICE)) == 1


async def test_concurrent_identical_inserts_make_one_fact(facts: FactStore) -> None:
    made = await asyncio.gather(
        *(facts.insert(ALICE, "profile", "Lives in Porto") for _ in range(10))
    )
    assert len({f.id for f in made}) == 1


async def test_supersede_keeps_the_old_fact_readable_as_of_the_past(
    facts: FactStore, clock: TravelClock
) -> None:
    old = await facts.insert(ALICE, "profile", "Lives in Porto")
    before = clock.now
    clock.advance(days=30)
    new = await facts.supersede(ALICE, old.id, "profile", "Lives in Lisbon")
    current = await facts.list_facts(ALICE)
    assert [f.text for f in current] == ["Lives in Lisbon"]
    then = await facts.list_facts(ALICE, as_of=before + timedelta(days=1))
    assert [f.text for f in then] == ["Lives in Porto"]
    (stored_old,) = await facts.get_many(ALICE, [old.id])
    assert stored_old.superseded_by == new.id and stored_old.valid_to == new.valid_from
    assert len(await facts.list_facts(ALICE, include_superseded=True)) == 2
    with pytest.raises(Conflict):
        await facts.supersede(ALICE, old.id, "profile", "Lives in Faro")


async def test_list_facts_filters_by_kind(facts: FactStore) -> None:
    await facts.insert(ALICE, FactKind.PLAN, "Will visit Japan in May")
    await facts.insert(ALICE, FactKind.PREFERENCE, "Prefers window seats")
    plans = await facts.list_facts(ALICE, kinds=["plan"])
    assert [f.kind for f in plans] == [FactKind.PLAN]


async def test_fact_input_is_checked(facts: FactStore) -> None:
    with pytest.raises(InvalidInput, match="kind"):
        await facts.insert(ALICE, "gossip", "x")
    with pytest.raises(InvalidInput, match="importance"):
        await facts.insert(ALICE, "plan", "x", importance=1.5)
    with pytest.raises(NotFound):
        await facts.supersede(ALICE, uuid.uuid4(), "plan", "x")


async def test_knowledge_cites_facts_and_revisions_retire_the_previous(
    facts: FactStore, knowledge: KnowledgeStore
) -> None:
    tea = await facts.insert(ALICE, "preference", "Likes green tea")
    coffee = await facts.insert(ALICE, "preference", "Avoids coffee after noon")
    first = await knowledge.add(ALICE, "Careful about caffeine", [tea.id], importance=0.7)
    assert (first.version, first.fact_ids, first.lineage_id) == (1, (tea.id,), first.id)
    second = await knowledge.revise(ALICE, first.id, "Limits caffeine", [tea.id, coffee.id])
    assert (second.version, second.lineage_id, second.importance) == (2, first.id, 0.7)
    assert [k.id for k in await knowledge.list_knowledge(ALICE)] == [second.id]
    assert len(await knowledge.list_knowledge(ALICE, include_retired=True)) == 2
    with pytest.raises(Conflict):
        await knowledge.revise(ALICE, first.id, "again", [tea.id])
    retired = await knowledge.retire(ALICE, second.id)
    assert retired.retired_at is not None
    assert await knowledge.list_knowledge(ALICE) == []


async def test_knowledge_must_cite_existing_facts_of_the_user(
    facts: FactStore, knowledge: KnowledgeStore
) -> None:
    bobs = await facts.insert(Scope("acme", "bob"), "profile", "Bob's fact")
    with pytest.raises(InvalidInput, match="fact_ids"):
        await knowledge.add(ALICE, "stolen insight", [bobs.id])
    with pytest.raises(InvalidInput, match="fact_ids"):
        await knowledge.add(ALICE, "no basis", [])


async def test_summary_is_written_once_per_session_and_can_be_rewritten(
    engine: AsyncEngine, clock: TravelClock
) -> None:
    transcripts = TranscriptStore(engine, clock, 32_000)
    summaries = SummaryStore(engine, clock, 32_000)
    session = uuid.uuid4()
    start = clock.now
    await transcripts.append(ALICE, session, "user", "plan the trip")
    end = clock.advance(hours=1)
    await summaries.put(
        ALICE, session, "Trip planning", topics=["trip"], started_at=start, ended_at=end
    )
    rewritten = await summaries.put(
        ALICE,
        session,
        "Trip planning to Japan",
        topics=["trip", "japan"],
        decisions=["fly in May"],
        open_loops=["book hotel"],
        started_at=start,
        ended_at=end,
    )
    assert (await summaries.get(ALICE, session)) == rewritten
    assert rewritten.open_loops == ("book hotel",)
    assert [s.session_id for s in await summaries.latest(ALICE)] == [session]
    with pytest.raises(NotFound):
        await summaries.put(ALICE, uuid.uuid4(), "no such session", started_at=start, ended_at=end)
    with pytest.raises(InvalidInput, match="ended_at"):
        await summaries.put(ALICE, session, "x", started_at=end, ended_at=start)


async def test_journal_keeps_every_version_and_refuses_stale_writers(
    journal: JournalStore,
) -> None:
    assert await journal.latest(ALICE) is None
    v1 = await journal.append(ALICE, [note("Alice started planning a trip.")], expected_version=0)
    v2 = await journal.append(ALICE, [note("Alice decided on Japan.")], expected_version=1)
    assert (v1.version, v2.version) == (1, 2)
    assert await journal.latest(ALICE) == v2
    assert [e.version for e in await journal.versions(ALICE)] == [2, 1]
    first = await journal.get(ALICE, 1)
    assert first.sections == (note("Alice started planning a trip."),)
    assert first.content == "# Journal\n\nAlice started planning a trip.\n"
    with pytest.raises(Conflict):
        await journal.append(ALICE, [note("stale")], expected_version=1)
    with pytest.raises(NotFound):
        await journal.get(ALICE, 9)


async def test_concurrent_journal_writers_never_share_a_version(journal: JournalStore) -> None:
    results = await asyncio.gather(
        *(journal.append(ALICE, [note(f"entry {i}")]) for i in range(8)), return_exceptions=True
    )
    written = [r for r in results if not isinstance(r, BaseException)]
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
    versions = sorted(e.version for e in await journal.versions(ALICE))
    assert versions == list(range(1, len(written) + 1))
