"""The LLM path through the real `openai` SDK against a scripted OpenAI-compatible server
on 127.0.0.1: a good answer, malformed JSON, a 429, a timeout — exact facts and exact
ledger rows, never a crash and never a half-written batch."""

import json
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text

from memory.core.domain import Scope
from memory.core.records import JournalEntry, JournalSection, SectionKind
from memory.core.settings import Settings
from memory.infra.embedder import SentenceTransformerEmbedder
from memory.infra.rls import owner_transaction
from service.container import Container, build_container
from tests.conftest import TravelClock
from tests.openai_standin import Reply, StandIn, chat, serve

ALICE = Scope("acme", "alice")
GOOD = json.dumps(
    {
        "facts": [
            {
                "kind": "profile",
                "text": "Works as a radiologist",
                "attribute": "occupation",
                "importance": 0.8,
                "confidence": 0.9,
                "source_seqs": [1],
            },
            {
                "kind": "plan",
                "text": "Plans to run the Berlin marathon on 2026-09-27",
                "attribute": None,
                "importance": 0.6,
                "confidence": 0.8,
                "source_seqs": [1, 2],
            },
            {
                "kind": "event",
                "text": "Cites a message that was never shown",
                "importance": 0.2,
                "source_seqs": [99],
            },
        ]
    }
)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with serve(StandIn()) as running:
        yield running


@pytest.fixture
async def app(
    fresh_database: str,
    clock: TravelClock,
    standin: StandIn,
    embedder: SentenceTransformerEmbedder,
) -> AsyncIterator[Container]:
    settings = Settings.model_validate(
        {
            "database_url": fresh_database,
            "llm": {
                "base_url": standin.base_url,
                "model": "stand-in-1",
                "api_key": "k",
                "timeout_s": 0.5,
                "max_retries": 2,
            },
            "reflection": {"extraction": "llm"},
        }
    )
    container = await build_container(settings, clock=clock, embedder=embedder)
    assert container.llm is not None
    container.llm._backoff_s = 0.01  # keep the tests quick; the backoff logic is the same
    yield container
    await container.close()


async def conversation(app: Container) -> uuid.UUID:
    sid = uuid.uuid4()
    await app.transcripts.append(ALICE, sid, "user", "I'm a radiologist training for Berlin.")
    await app.transcripts.append(ALICE, sid, "user", "The marathon is on 27 September.")
    app.clock.advance(minutes=5)  # type: ignore[attr-defined] # quiet long enough to extract
    return sid


async def ledger(app: Container) -> list[tuple[object, ...]]:
    async with owner_transaction(app.database.engine) as conn:
        rows = await conn.execute(
            text(
                "SELECT status, model, prompt_version, input_tokens, output_tokens, llm_calls, "
                "retries, error FROM runs WHERE kind = 'extract' ORDER BY started_at"
            )
        )
        return [tuple(r) for r in rows]


async def watermark(app: Container, sid: uuid.UUID) -> int:
    async with owner_transaction(app.database.engine) as conn:
        seq = await conn.scalar(
            text("SELECT extracted_seq FROM sessions WHERE id = :s"), {"s": sid}
        )
    return int(seq)


async def test_a_good_answer_becomes_traceable_facts(app: Container, standin: StandIn) -> None:
    standin.script = [chat(GOOD, prompt_tokens=120, completion_tokens=40)]
    sid = await conversation(app)
    assert await app.worker.extract_session(ALICE, sid)
    facts = {f.text: f for f in await app.facts.list_facts(ALICE)}
    assert set(facts) == {
        "Works as a radiologist",
        "Plans to run the Berlin marathon on 2026-09-27",
    }
    assert len(facts["Plans to run the Berlin marathon on 2026-09-27"].source_message_ids) == 2
    assert facts["Works as a radiologist"].attribute == "occupation"
    status, model, version, tokens_in, tokens_out, calls, retries, error = (await ledger(app))[0]
    assert (status, model, tokens_in, tokens_out, calls, retries, error) == (
        "ok",
        "stand-in-1",
        120,
        40,
        1,
        0,
        None,
    )
    assert str(version).startswith("extraction-")
    sent = standin.requests[0][1]
    assert sent["model"] == "stand-in-1" and "[1] user" in sent["messages"][1]["content"]
    assert await watermark(app, sid) == 2


async def test_malformed_json_is_asked_again(app: Container, standin: StandIn) -> None:
    standin.script = [chat('{"facts": [{"kind": "profile"'), chat(GOOD)]
    sid = await conversation(app)
    assert await app.worker.extract_session(ALICE, sid)
    assert len(await app.facts.list_facts(ALICE)) == 2
    status, *_, calls, retries, _error = (await ledger(app))[0]
    assert (status, calls, retries) == ("ok", 2, 1)


async def test_output_that_stays_malformed_is_a_failed_run_and_writes_nothing(
    app: Container, standin: StandIn
) -> None:
    standin.script = [chat("not json at all") for _ in range(3)]
    sid = await conversation(app)
    assert await app.worker.extract_due() == 0
    assert await app.facts.list_facts(ALICE) == []
    assert await watermark(app, sid) == 0, "the batch stays to be extracted again"
    status, *_, calls, retries, error = (await ledger(app))[0]
    assert (status, calls, retries) == ("failed", 3, 2)
    assert "MalformedOutput" in str(error)
    standin.script = [chat(GOOD)]
    assert await app.worker.extract_session(ALICE, sid), "the next pass finishes the job"
    assert len(await app.facts.list_facts(ALICE)) == 2


async def test_a_rate_limit_is_retried_after_its_delay(app: Container, standin: StandIn) -> None:
    standin.script = [
        Reply(status=429, body={"error": {"message": "slow down"}}, headers={"retry-after": "0"}),
        chat(GOOD),
    ]
    sid = await conversation(app)
    assert await app.worker.extract_session(ALICE, sid)
    status, *_, calls, retries, _error = (await ledger(app))[0]
    assert (status, calls, retries) == ("ok", 2, 1)
    assert len(await app.facts.list_facts(ALICE)) == 2


async def test_a_timeout_is_retried(app: Container, standin: StandIn) -> None:
    standin.script = [Reply(status=200, body="{}", delay_s=1.0), chat(GOOD)]
    sid = await conversation(app)
    assert await app.worker.extract_session(ALICE, sid)
    status, *_, calls, retries, _error = (await ledger(app))[0]
    assert (status, calls, retries) == ("ok", 2, 1)


async def test_an_endpoint_that_keeps_failing_is_a_failed_run(
    app: Container, standin: StandIn
) -> None:
    standin.script = [Reply(status=503, body={"error": {"message": "down"}}) for _ in range(3)]
    sid = await conversation(app)
    assert await app.worker.extract_due() == 0
    status, *_, calls, retries, error = (await ledger(app))[0]
    assert (status, calls, retries) == ("failed", 3, 2)
    assert "BackendUnavailable" in str(error)
    assert await watermark(app, sid) == 0


async def test_llm_synthesis_writes_insights_citing_known_facts(
    app: Container, standin: StandIn
) -> None:
    standin.script = [chat(GOOD)]
    sid = await conversation(app)
    await app.worker.extract_session(ALICE, sid)
    facts = await app.facts.list_facts(ALICE)
    insight = {
        "insights": [
            {
                "text": "Builds a disciplined routine around medicine and running",
                "fact_ids": [str(f.id) for f in facts] + [str(uuid.uuid4())],
                "importance": 0.7,
            },
            {
                "text": "Cites only facts it invented",
                "fact_ids": [str(uuid.uuid4())],
                "importance": 0.1,
            },
        ]
    }
    standin.script = [chat(json.dumps(insight), prompt_tokens=200, completion_tokens=30)]
    assert await app.worker.reflect_user(ALICE)
    (knowledge,) = await app.knowledge.list_knowledge(ALICE)
    assert knowledge.text.startswith("Builds a disciplined routine")
    assert set(knowledge.fact_ids) == {f.id for f in facts}
    async with owner_transaction(app.database.engine) as conn:
        row = (
            await conn.execute(
                text("SELECT status, prompt_version, input_tokens FROM runs WHERE kind = 'reflect'")
            )
        ).one()
    assert (row.status, row.input_tokens) == ("ok", 200)
    assert row.prompt_version.startswith("synthesis-")


async def test_tenants_choose_their_extraction_mode_and_model(
    app: Container, standin: StandIn
) -> None:
    await app.tenants.set_reflection("acme", {"extraction": "rules"})
    sid = await conversation(app)
    assert await app.worker.extract_session(ALICE, sid)
    assert standin.requests == [], "rules need no LLM call"

    other = Scope("globex", "bob")
    await app.tenants.set_reflection("globex", {"model": "tenant-model-2"})
    standin.script = [chat(GOOD)]
    sid = uuid.uuid4()
    await app.transcripts.append(other, sid, "user", "I'm a radiologist.")
    assert await app.worker.extract_session(other, sid)
    assert standin.requests[0][1]["model"] == "tenant-model-2"
    async with owner_transaction(app.database.engine) as conn:
        models = (
            await conn.execute(
                text(
                    "SELECT tenant_id, model, prompt_version FROM runs WHERE kind = 'extract' "
                    "ORDER BY started_at"
                )
            )
        ).all()
    assert [(m.tenant_id, m.model) for m in models] == [
        ("acme", None),
        ("globex", "tenant-model-2"),
    ]


SUMMARY = json.dumps(
    {
        "text": "Alice, a radiologist, is training for the Berlin marathon on 27 September.",
        "headline": "Training for the Berlin marathon",
        "topics": ["marathon", "training"],
        "decisions": [],
        "open_loops": ["Run the Berlin marathon on 2026-09-27"],
    }
)


async def end_of_session(app: Container) -> None:
    await conversation(app)
    app.clock.advance(hours=3)  # type: ignore[attr-defined]
    await app.worker.tick()


async def test_with_an_llm_the_session_summary_is_written_by_the_summary_prompt(
    app: Container, standin: StandIn
) -> None:
    standin.script = [chat(GOOD), chat(SUMMARY)]
    await end_of_session(app)
    [summary] = await app.summaries.latest(ALICE)
    assert summary.text.startswith("Alice, a radiologist, is training")
    assert summary.topics == ("marathon", "training")
    asked = standin.requests[1][1]["messages"]
    assert "summary" in asked[0]["content"] and "Facts:" in asked[1]["content"]
    journal = await app.journal.latest(ALICE)
    assert journal is not None and "Alice, a radiologist" in journal.content
    assert session_section(journal).title.endswith("— Training for the Berlin marathon")


async def test_when_the_llm_cannot_summarise_the_summary_is_extractive(
    app: Container, standin: StandIn
) -> None:
    standin.script = [chat(GOOD), *(chat("not json") for _ in range(3))]
    await end_of_session(app)
    [summary] = await app.summaries.latest(ALICE)
    # The session's typed facts, as sentences; the plan also heads its journal section.
    assert summary.text == "Plans to run the Berlin marathon on 2026-09-27."
    journal = await app.journal.latest(ALICE)
    assert journal is not None
    assert session_section(journal).title.endswith(
        "— Plans to run the Berlin marathon on 2026-09-27"
    )


def session_section(entry: JournalEntry) -> JournalSection:
    return next(s for s in entry.sections if s.kind is SectionKind.SESSION)
