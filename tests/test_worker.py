"""The reflection worker on real Postgres with the rule-based extractor and the packaged
MiniLM: facts with provenance, dedup and supersession across sessions, the session-end
pipeline under time travel, retention, knowledge, the run ledger, and workers racing."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.domain import FactKind, Scope
from memory.core.settings import Settings
from memory.infra.embedder import SentenceTransformerEmbedder
from memory.infra.rls import owner_transaction
from memory.stores.session_store import PostgresSessionStore
from service.container import Container, build_container
from tests.conftest import TravelClock

ALICE = Scope("acme", "alice")


@pytest.fixture
async def app(
    fresh_database: str, clock: TravelClock, embedder: SentenceTransformerEmbedder
) -> AsyncIterator[Container]:
    settings = Settings.model_validate(
        {
            "database_url": fresh_database,
            "reflection": {"extraction": "rules", "reflect_min_new_facts": 3},
            "session": {"tenant_cache_s": 0},
        }
    )
    container = await build_container(settings, clock=clock, embedder=embedder)
    yield container
    await container.close()


async def say(app: Container, sid: uuid.UUID, *turns: tuple[str, str]) -> None:
    for role, content in turns:
        await app.sessions.append(ALICE, sid, role, content, device_id="phone")
        app.clock.advance(minutes=1)  # type: ignore[attr-defined]


async def count(engine: AsyncEngine, sql: str) -> int:
    async with owner_transaction(engine) as conn:
        return int(await conn.scalar(text(sql)) or 0)


async def test_extraction_writes_facts_with_provenance_once(app: Container) -> None:
    sid = uuid.uuid4()
    await say(
        app,
        sid,
        ("user", "I work as a data engineer and I live in Porto."),
        ("assistant", "Noted!"),
        ("user", "My sister Inês visits next week."),
    )
    app.clock.advance(minutes=5)  # type: ignore[attr-defined]
    assert await app.worker.extract_due() == 1
    facts = await app.facts.list_facts(ALICE)
    texts = {f.text for f in facts}
    assert {"Works as a data engineer", "Lives in Porto", "Has a sister named Inês"} <= texts
    window = await app.transcripts.window(ALICE, sid)
    assert all(f.source_message_ids[0] in {m.id for m in window} for f in facts)
    assert await app.worker.extract_due() == 0, "the watermark moved past these messages"
    await app.worker.extract_session(ALICE, sid)
    assert len(await app.facts.list_facts(ALICE)) == len(facts)


async def test_a_new_value_supersedes_and_repeats_merge_across_sessions(app: Container) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    await say(app, first, ("user", "I live in Porto. I love hiking."))
    app.clock.advance(minutes=5)  # type: ignore[attr-defined]
    await app.worker.extract_due()
    in_porto = app.clock()
    app.clock.advance(days=20)  # type: ignore[attr-defined]
    await say(app, second, ("user", "Big news: I moved to Lisbon! I really love hiking."))
    app.clock.advance(minutes=5)  # type: ignore[attr-defined]
    await app.worker.extract_due()
    current = {f.attribute: f for f in await app.facts.list_facts(ALICE)}
    assert current["residence"].text == "Lives in Lisbon"
    assert len(current["preference:hiking"].source_message_ids) == 2, "merged, not duplicated"
    then = await app.facts.list_facts(ALICE, as_of=in_porto)
    assert [f.text for f in then if f.attribute == "residence"] == ["Lives in Porto"]


async def test_time_travel_through_the_whole_lifecycle(app: Container) -> None:
    sid = uuid.uuid4()
    await say(
        app,
        sid,
        ("user", "I'm planning to renovate the kitchen next month."),
        ("assistant", "Exciting!"),
        ("user", "We decided to go with oak cabinets."),
        ("user", "Do I need a permit for the wiring?"),
    )
    app.clock.advance(minutes=35)  # type: ignore[attr-defined]
    done = await app.worker.tick()
    assert done["soft_expired"] == 1 and done["ended_sessions"] == 0
    assert (await app.sessions.state(ALICE, sid)).status == "soft_expired"

    app.clock.advance(minutes=90)  # type: ignore[attr-defined] # 2 h 5 min idle
    done = await app.worker.tick()
    assert done["hard_expired"] == 1 and done["ended_sessions"] == 1
    summary = await app.summaries.get(ALICE, sid)
    assert any("oak cabinets" in d for d in summary.decisions)
    assert any("permit" in loop for loop in summary.open_loops)
    assert "kitchen" in summary.topics
    entry = await app.journal.latest(ALICE)
    assert entry is not None and entry.session_id == sid and "oak cabinets" in entry.content
    assert all(m.archived_at is not None for m in await app.transcripts.window(ALICE, sid))
    assert (await app.sessions.state(ALICE, sid)).status == "archived"

    facts_before = len(await app.facts.list_facts(ALICE))
    app.clock.advance(days=31)  # type: ignore[attr-defined]
    done = await app.worker.tick()
    assert done["deleted_raw"] == 4
    assert await count(app.database.engine, "SELECT count(*) FROM messages") == 0
    assert len(await app.facts.list_facts(ALICE)) == facts_before > 0
    assert (await app.summaries.get(ALICE, sid)).text == summary.text
    assert (await app.journal.latest(ALICE)) == entry
    assert await app.worker.tick() == await app.worker.tick(), "nothing left to do, twice"


async def test_reflection_writes_cited_knowledge_and_follows_supersession(
    app: Container,
) -> None:
    sid = uuid.uuid4()
    await say(app, sid, ("user", "I love hiking. I love trail running. I love mountain biking."))
    app.clock.advance(minutes=5)  # type: ignore[attr-defined]
    done = await app.worker.tick()
    assert done["reflected_users"] == 1
    (insight,) = await app.knowledge.list_knowledge(ALICE)
    assert len(insight.fact_ids) == 3 and insight.text.endswith("and 2 more")
    hiking = next(f for f in await app.facts.list_facts(ALICE) if "hiking" in f.text)
    app.clock.advance(days=2)  # type: ignore[attr-defined]
    await app.facts.supersede(
        ALICE, hiking.id, "preference", "Dislikes hiking", attribute="preference:hiking"
    )
    await app.worker.reflect_user(ALICE)
    active = await app.knowledge.list_knowledge(ALICE)
    assert all(hiking.id not in k.fact_ids for k in active), "no insight outlives its facts"


async def test_every_job_leaves_a_ledger_row(app: Container) -> None:
    sid = uuid.uuid4()
    await say(app, sid, ("user", "I work as a pilot."))
    app.clock.advance(hours=3)  # type: ignore[attr-defined]
    await app.worker.tick()
    async with owner_transaction(app.database.engine) as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT kind, status, tenant_id, user_id, session_id, prompt_version, wall_ms "
                    "FROM runs ORDER BY started_at, kind"
                )
            )
        ).all()
    kinds = {r.kind for r in rows}
    assert {"extract", "end_session", "retention"} <= kinds
    extract = next(r for r in rows if r.kind == "extract")
    assert (extract.status, extract.tenant_id, extract.user_id, extract.session_id) == (
        "ok",
        "acme",
        "alice",
        sid,
    )
    assert extract.prompt_version.startswith("rules-") and extract.wall_ms >= 0


async def test_two_workers_racing_do_everything_exactly_once(
    app: Container,
    fresh_database: str,
    clock: TravelClock,
    embedder: SentenceTransformerEmbedder,
) -> None:
    rival_settings = app.settings.model_copy()
    rival = await build_container(rival_settings, clock=clock, embedder=embedder)
    try:
        for n in range(4):
            sid = uuid.uuid4()
            await say(
                app,
                sid,
                ("user", f"I work as a chef number {n}. I love tennis."),
                ("user", "We decided to open a bistro."),
                ("user", "Is rent deductible?"),
            )
            app.clock.advance(minutes=1)  # type: ignore[attr-defined]
        app.clock.advance(hours=3)  # type: ignore[attr-defined]
        await asyncio.gather(app.worker.tick(), rival.worker.tick(), app.worker.tick())
        await asyncio.gather(app.worker.tick(), rival.worker.tick())
    finally:
        await rival.close()
    engine = app.database.engine
    assert await count(engine, "SELECT count(*) FROM session_summaries") == 4
    assert await count(engine, "SELECT count(*) FROM journal_entries") == 4
    assert await count(engine, "SELECT count(DISTINCT version) FROM journal_entries") == 4
    assert (
        await count(
            engine,
            "SELECT count(*) FROM (SELECT text_hash FROM facts WHERE valid_to IS NULL "
            "GROUP BY tenant_id, user_id, text_hash HAVING count(*) > 1) d",
        )
        == 0
    )
    tennis = [f for f in await app.facts.list_facts(ALICE) if f.kind is FactKind.PREFERENCE]
    assert len(tennis) == 1 and len(tennis[0].source_message_ids) == 4
    assert await count(engine, "SELECT count(*) FROM sessions WHERE status = 'archived'") == 4


async def test_the_postgres_hot_state_is_purged_after_its_window(app: Container) -> None:
    assert isinstance(app.session_store, PostgresSessionStore)
    await say(app, uuid.uuid4(), ("user", "hello"))
    assert await count(app.database.engine, "SELECT count(*) FROM session_cache") == 1
    app.clock.advance(hours=3)  # type: ignore[attr-defined]
    done = await app.worker.lifecycle()
    assert done["purged_cache"] == 1
