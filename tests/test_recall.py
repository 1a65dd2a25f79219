"""Hybrid recall on real Postgres + pgvector with the packaged MiniLM: meaning without shared
words, rare exact words, validity in time, provenance, filters, and exactly k results for a
user with few rows among many others."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.domain import Scope, Tier
from memory.core.errors import InvalidInput
from memory.core.settings import RecallSettings
from memory.infra.database import make_engine
from memory.infra.embedder import SentenceTransformerEmbedder
from memory.infra.rls import owner_transaction, transaction
from memory.stores.facts import FactStore
from memory.stores.knowledge import KnowledgeStore
from memory.stores.pending import embed_pending
from memory.stores.recall import Recall
from memory.stores.summaries import SummaryStore
from memory.stores.transcripts import TranscriptStore
from tests.conftest import TravelClock

ALICE = Scope("acme", "alice")


@pytest.fixture
def recall(
    engine: AsyncEngine, embedder: SentenceTransformerEmbedder, clock: TravelClock
) -> Recall:
    return Recall(engine, embedder, RecallSettings(), clock, 32_000)


@pytest.fixture
def facts(engine: AsyncEngine, clock: TravelClock) -> FactStore:
    return FactStore(engine, clock, 32_000)


@pytest.fixture
def transcripts(engine: AsyncEngine, clock: TravelClock) -> TranscriptStore:
    return TranscriptStore(engine, clock, 32_000)


FILLER = [
    "Works as a nurse at the city hospital",
    "Has a golden retriever called Max",
    "Plays the guitar on weekends",
    "Is learning Japanese",
    "Prefers aisle seats on long flights",
]


async def test_finds_a_fact_by_meaning_with_no_shared_words(
    facts: FactStore, recall: Recall, engine: AsyncEngine, embedder: SentenceTransformerEmbedder
) -> None:
    for statement in FILLER:
        await facts.insert(ALICE, "profile", statement)
    target = await facts.insert(ALICE, "profile", "Is severely allergic to peanuts")
    assert await embed_pending(engine, embedder) == len(FILLER) + 1
    hits = await recall.recall(ALICE, "which foods could make her ill?", k=3)
    assert hits[0].id == target.id
    assert hits[0].tier is Tier.FACTS
    assert hits[0].parts.text_rank is None and hits[0].parts.vector_rank == 1


async def test_finds_a_message_by_a_rare_exact_word(
    transcripts: TranscriptStore,
    recall: Recall,
    engine: AsyncEngine,
    embedder: SentenceTransformerEmbedder,
) -> None:
    session = uuid.uuid4()
    for statement in FILLER:
        await transcripts.append(ALICE, session, "user", statement)
    target = await transcripts.append(
        ALICE, session, "user", "my router password hint is qx7vandelay"
    )
    await embed_pending(engine, embedder)
    hits = await recall.recall(ALICE, "what was qx7vandelay about?", k=3, tiers=["raw"])
    assert hits[0].id == target.id
    assert hits[0].parts.text_rank == 1
    assert hits[0].provenance.message_ids == (target.id,)
    assert hits[0].provenance.session_id == session


async def test_an_answer_is_found_through_the_question_before_it(
    transcripts: TranscriptStore, recall: Recall
) -> None:
    """No vectors here, so only the lexical side ranks: the answer shares no word with the
    query and still comes back, on its neighbour's BM25 alone."""
    session = uuid.uuid4()
    for statement in FILLER:
        await transcripts.append(ALICE, session, "user", statement)
    await transcripts.append(ALICE, session, "assistant", "Where did you go on your vacation?")
    answer = await transcripts.append(ALICE, session, "user", "Lisbon, finally!")
    hits = await recall.recall(ALICE, "vacation", k=3, tiers=["raw"])
    found = {hit.id: hit for hit in hits}
    assert answer.id in found
    assert found[answer.id].parts.text_score is None
    assert (found[answer.id].parts.context_score or 0.0) > 0


async def test_a_word_common_in_the_users_history_weighs_less_than_a_rare_one(
    transcripts: TranscriptStore, recall: Recall
) -> None:
    session = uuid.uuid4()
    for day in range(12):
        await transcripts.append(ALICE, session, "user", f"Coffee with the team on day {day}")
    rare = await transcripts.append(ALICE, uuid.uuid4(), "user", "Booked a kayak lesson")
    common = await transcripts.append(ALICE, uuid.uuid4(), "user", "More coffee, more coffee")
    hits = await recall.recall(ALICE, "coffee kayak", k=14, tiers=["raw"])
    assert hits[0].id == rare.id
    scores = {h.id: h.parts.text_score or 0.0 for h in hits}
    assert scores[common.id] > 0
    assert scores[rare.id] > 2 * scores[common.id]


async def test_another_users_rows_do_not_change_a_users_scores(
    transcripts: TranscriptStore,
    recall: Recall,
    engine: AsyncEngine,
    embedder: SentenceTransformerEmbedder,
) -> None:
    """BM25's statistics are counted over the asking user's rows only: a neighbour with the
    same words in every message changes nothing for Alice."""
    session = uuid.uuid4()
    for statement in [*FILLER, "Booked a kayak lesson for Sunday"]:
        await transcripts.append(ALICE, session, "user", statement)
    await embed_pending(engine, embedder)
    before = await recall.recall(ALICE, "kayak lesson on Sunday", k=5)
    bob = Scope("acme", "bob")
    for i in range(30):
        await transcripts.append(bob, uuid.uuid4(), "user", f"kayak lesson on Sunday number {i}")
    await embed_pending(engine, embedder)
    after = await recall.recall(ALICE, "kayak lesson on Sunday", k=5)
    assert [(h.id, round(h.score, 9)) for h in after] == [(h.id, round(h.score, 9)) for h in before]
    assert all(h.text in [*FILLER, "Booked a kayak lesson for Sunday"] for h in after)


async def test_superseded_facts_are_hidden_unless_asked_as_of_the_past(
    facts: FactStore, recall: Recall, clock: TravelClock
) -> None:
    old = await facts.insert(ALICE, "profile", "Lives in Porto")
    before = clock.now
    clock.advance(days=10)
    new = await facts.supersede(ALICE, old.id, "profile", "Lives in Lisbon")
    now_hits = await recall.recall(ALICE, "where does she live", k=5)
    assert [h.id for h in now_hits] == [new.id]
    past_hits = await recall.recall(
        ALICE, "where does she live", k=5, as_of=before + timedelta(days=1)
    )
    assert [h.id for h in past_hits] == [old.id]


async def test_hits_carry_provenance_through_facts_and_knowledge(
    engine: AsyncEngine,
    clock: TravelClock,
    facts: FactStore,
    transcripts: TranscriptStore,
    recall: Recall,
    embedder: SentenceTransformerEmbedder,
) -> None:
    session = uuid.uuid4()
    said = await transcripts.append(ALICE, session, "user", "I am vegetarian since 2019")
    fact = await facts.insert(ALICE, "preference", "Is vegetarian", source_message_ids=[said.id])
    insight = await KnowledgeStore(engine, clock, 32_000).add(
        ALICE, "Plan meals without meat for her", [fact.id], importance=0.9
    )
    await SummaryStore(engine, clock, 32_000).put(
        ALICE, session, "Talked about vegetarian diet", started_at=clock.now, ended_at=clock.now
    )
    await embed_pending(engine, embedder)
    everything = await recall.recall(ALICE, "vegetarian meals", k=10)
    assert Tier.RAW in {h.tier for h in everything}
    # Without the raw tier (with it, the insight retells only a message already in full).
    derived = [Tier.FACTS, Tier.KNOWLEDGE, Tier.SUMMARIES]
    hits = {h.tier: h for h in await recall.recall(ALICE, "vegetarian meals", 10, tiers=derived)}
    assert set(hits) == set(derived)
    assert hits[Tier.FACTS].provenance.message_ids == (said.id,)
    assert hits[Tier.KNOWLEDGE].id == insight.id
    assert hits[Tier.KNOWLEDGE].provenance.fact_ids == (fact.id,)
    assert hits[Tier.KNOWLEDGE].provenance.message_ids == (said.id,)
    assert hits[Tier.SUMMARIES].provenance.session_id == session
    assert hits[Tier.KNOWLEDGE].parts.importance == 0.9


async def test_filters_by_kind_and_time(
    facts: FactStore, recall: Recall, clock: TravelClock
) -> None:
    early = await facts.insert(ALICE, "plan", "Trip to Kyoto in spring")
    clock.advance(days=40)
    late = await facts.insert(ALICE, "preference", "Trip photos should be printed")
    by_kind = await recall.recall(ALICE, "trip", k=5, kinds=["plan"])
    assert [h.id for h in by_kind] == [early.id]
    recent = await recall.recall(ALICE, "trip", k=5, since=clock.now - timedelta(days=1))
    assert [h.id for h in recent] == [late.id]
    older = await recall.recall(ALICE, "trip", k=5, until=clock.now - timedelta(days=1))
    assert [h.id for h in older] == [early.id]


async def test_recency_and_importance_break_ties(
    facts: FactStore, recall: Recall, clock: TravelClock
) -> None:
    old = await facts.insert(ALICE, "event", "Ran a marathon", importance=0.5)
    clock.advance(days=365)
    new = await facts.insert(ALICE, "event", "Ran a marathon again", importance=0.5)
    hits = await recall.recall(ALICE, "marathon", k=2)
    assert [h.id for h in hits] == [new.id, old.id]
    assert hits[0].parts.recency > hits[1].parts.recency


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"query": "  "}, "query"),
        ({"k": 0}, "k"),
        ({"k": 101}, "k"),
        ({"tiers": ["dreams"]}, "tiers"),
        ({"kinds": ["gossip"]}, "kind"),
    ],
)
async def test_bad_recall_requests_are_refused(
    recall: Recall, kwargs: dict[str, object], field: str
) -> None:
    args: dict[str, object] = {"query": "anything", "k": 5} | kwargs
    with pytest.raises(InvalidInput) as err:
        await recall.recall(ALICE, **args)  # type: ignore[arg-type]
    assert err.value.field == field


async def load_other_users(engine: AsyncEngine, rows: int) -> None:
    """Bulk rows with random vectors for 50 other users, then ANALYZE. The HNSW index is
    built after the load (as a bulk import would do), which is several times faster."""
    async with owner_transaction(engine) as conn:
        await conn.execute(text("DROP INDEX ix_facts_embedding_hnsw"))
        await conn.execute(text("INSERT INTO tenants (id, name) VALUES ('acme', 'acme')"))
        await conn.execute(
            text(
                "INSERT INTO users (tenant_id, id) SELECT 'acme', 'other' || g "
                "FROM generate_series(0, 49) g"
            )
        )
        await conn.execute(
            text("""
            INSERT INTO facts (id, tenant_id, user_id, kind, text, text_hash, importance,
                               valid_from, created_at, embedding)
            SELECT gen_random_uuid(), 'acme', 'other' || (g % 50), 'event', 'filler ' || g,
                   md5(g::text), 0.5, now(), now(),
                   (SELECT array_agg(random() - 0.5)::vector FROM generate_series(1, 384)
                    WHERE g > 0)
            FROM generate_series(1, :rows) g
        """),
            {"rows": rows},
        )
        await conn.execute(
            text(
                "CREATE INDEX ix_facts_embedding_hnsw ON facts USING hnsw "
                "(embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
            )
        )
    async with owner_transaction(engine) as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()


async def test_a_user_with_few_rows_among_many_gets_exactly_k(
    engine: AsyncEngine, facts: FactStore, recall: Recall, embedder: SentenceTransformerEmbedder
) -> None:
    await load_other_users(engine, 10_000)
    mine = {(await facts.insert(ALICE, "profile", s)).id for s in [*FILLER, "Owns a bicycle"]}
    await embed_pending(engine, embedder)
    hits = await recall.recall(ALICE, "hobbies", k=5, tiers=["facts"])
    assert len(hits) == 5 and {h.id for h in hits} <= mine


async def test_hnsw_with_a_user_filter_still_returns_k_rows(
    fresh_database: str, embedder: SentenceTransformerEmbedder, clock: TravelClock
) -> None:
    """Forces the HNSW plan (sorting disabled) so that the post-filter trap would bite;
    the iterative scan set by recall keeps going until the user's rows are found."""
    loader = make_engine(fresh_database, 2)
    await load_other_users(loader, 10_000)
    async with owner_transaction(loader) as conn:  # 200 rows of alice: 2% of the table
        await conn.execute(
            text("""
            INSERT INTO users (tenant_id, id) VALUES ('acme', 'alice');
        """)
        )
        await conn.execute(
            text("""
            INSERT INTO facts (id, tenant_id, user_id, kind, text, text_hash, importance,
                               valid_from, created_at, embedding)
            SELECT gen_random_uuid(), 'acme', 'alice', 'event', 'mine ' || g, md5('a' || g),
                   0.5, now(), now(),
                   (SELECT array_agg(random() - 0.5)::vector FROM generate_series(1, 384)
                    WHERE g > 0)
            FROM generate_series(1, 200) g
        """)
        )
        name = fresh_database.rsplit("/", 1)[1].split("?")[0]
        await conn.execute(text(f'ALTER DATABASE "{name}" SET enable_sort = off'))
        await conn.execute(text(f'ALTER DATABASE "{name}" SET enable_seqscan = off'))
    await loader.dispose()
    engine = make_engine(fresh_database, 2)
    try:
        forced = Recall(engine, embedder, RecallSettings(hnsw_ef_search=20), clock, 32_000)
        vector = (await embedder.embed(["anything"]))[0]
        async with transaction(engine, ALICE) as conn:  # planned under her policy
            plan = await conn.execute(
                text(
                    "EXPLAIN SELECT id FROM facts WHERE tenant_id = 'acme' AND user_id = 'alice' "
                    "ORDER BY embedding <=> CAST(:v AS vector) LIMIT 20"
                ),
                {"v": "[" + ",".join(map(str, vector)) + "]"},
            )
            assert "ix_facts_embedding_hnsw" in "\n".join(r[0] for r in plan)
        hits = await forced.recall(ALICE, "zzz", k=20, tiers=["facts"], query_embedding=vector)
        assert len(hits) == 20
    finally:
        await engine.dispose()
