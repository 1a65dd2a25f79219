"""Export, then import into another database: every tier rebuilt, the second export equal
to the first line for line (ids and times kept), content sealed again with the target's
keys, an incomplete export or a user who exists refused with nothing written, and the CLI's
`export` and `import` doing the same through their real entry point."""

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from memory.core.domain import Scope
from memory.core.errors import Conflict, InvalidInput
from memory.core.settings import Settings
from memory.infra.embedder import SentenceTransformerEmbedder
from memory.infra.rls import owner_transaction
from service.cli import app as cli
from service.container import Container, build_container
from service.local_client import LocalClient
from tests.conftest import TravelClock, cloned_database

ANA = Scope("acme", "ana")


@pytest.fixture
async def second_database(admin: AsyncEngine, template: str, server_url: str) -> AsyncIterator[str]:
    """Another database, as `fresh_database` is one: where the export is imported."""
    async for url in cloned_database(admin, template, server_url):
        yield url


async def service(
    url: str, clock: TravelClock, embedder: SentenceTransformerEmbedder, sealed: bool
) -> Container:
    keys = {"k2": base64.b64encode(os.urandom(32)).decode()} if sealed else {}
    settings = Settings.model_validate(
        {"database_url": url, "encryption": {"keys": keys}, "reflection": {"extraction": "rules"}}
    )
    return await build_container(settings, clock=clock, embedder=embedder)


async def a_lived_in_user(c: Container, clock: TravelClock) -> None:
    """Three sessions over two weeks: facts (one superseded), a pinned one, observations,
    knowledge, summaries, the journal's versions, a hot-state context."""
    said = [
        ["Hi, I'm Marta. I live in Lisbon and I work as a nurse.", "I love hiking and coffee."],
        ["My dog Bruno kept me up all night.", "I've decided to hire a dog walker."],
        ["Big news: I moved to Porto last week!", "I'm allergic to peanuts, remember that."],
    ]
    for number, texts in enumerate(said):
        sid = uuid.uuid4()
        for content in texts:
            await c.sessions.append(
                ANA,
                sid,
                "user",
                content,
                device_id="phone",
                metadata={"app": "mobile", "n": number},
                thread="life" if number else "intro",
                session_metadata={"campaign": f"c{number}"},
            )
            await c.sessions.append(ANA, sid, "assistant", "Noted, thank you.")
            clock.advance(minutes=2)
        state = await c.sessions.state(ANA, sid)
        await c.sessions.update(ANA, sid, state.version, topic="life")
        clock.advance(days=5)
        await c.worker.tick()
    await c.labels.set_user(ANA, {"plan": "pro", "tags": ["beta"]})
    local = LocalClient(c, "acme")
    fact = await local.remember("ana", "preference", "Prefers short answers", pinned=True)
    fixed = await local.correct("ana", str(fact.id), "Prefers short, direct answers")
    # An insight and a revision of it, citing facts (the worker writes them from clusters).
    typed = [f.id for f in await c.facts.list_facts(ANA, kinds=["preference", "profile"])]
    insight = await c.knowledge.add(ANA, "Tastes: hiking, coffee", typed[:2])
    await c.knowledge.revise(
        ANA, insight.id, "Tastes: hiking, coffee, brevity", [*typed[:2], fixed.id]
    )
    clock.advance(days=1)
    await c.worker.tick()


async def exported(c: Container) -> list[dict[str, Any]]:
    return [row async for row in c.records.export(ANA)]


async def test_an_export_imported_elsewhere_exports_the_same(
    fresh_database: str,
    second_database: str,
    clock: TravelClock,
    embedder: SentenceTransformerEmbedder,
) -> None:
    source = await service(fresh_database, clock, embedder, sealed=False)
    target = await service(second_database, clock, embedder, sealed=True)
    try:
        await a_lived_in_user(source, clock)
        before = await exported(source)
        counts = before[-1]["rows"]
        for tier in ("user", "session", "message", "fact", "knowledge", "summary", "journal"):
            assert counts[tier] > 0, f"the user has no {tier} rows to carry over"
        assert any(r.get("superseded_by") for r in before if r["tier"] == "fact")
        assert any(r.get("pinned") for r in before if r["tier"] == "fact")
        assert {r["thread"] for r in before if r["tier"] == "session"} == {"intro", "life"}
        assert before[0]["metadata"] == {"plan": "pro", "tags": ["beta"]}
        assert any(
            {"app": "mobile", "n": 2} in r["source_metadata"] for r in before if r["tier"] == "fact"
        )
        imported = await target.records.import_rows(ANA, before)
        assert imported == counts
        after = await exported(target)
        assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)
        # Sealed with the target's key, and found by meaning once the worker embedded it.
        async with owner_transaction(target.database.engine) as conn:
            keys = (await conn.execute(text("SELECT DISTINCT key_id FROM messages"))).all()
        assert [k for (k,) in keys] == ["k2"]
        await target.worker.tick()
        hits = await target.recall.recall(ANA, "which city does she live in now?", 5)
        assert any("Porto" in h.text for h in hits)
        resumed = await target.resumer.resume(ANA, "hello")
        assert "short, direct answers" in str(resumed.messages)  # the pinned fact
        with pytest.raises(Conflict):
            await target.records.import_rows(ANA, before)
    finally:
        await source.close()
        await target.close()


async def test_an_incomplete_export_is_refused_and_writes_nothing(
    fresh_database: str,
    second_database: str,
    clock: TravelClock,
    embedder: SentenceTransformerEmbedder,
) -> None:
    source = await service(fresh_database, clock, embedder, sealed=False)
    target = await service(second_database, clock, embedder, sealed=False)
    try:
        await source.sessions.append(ANA, uuid.uuid4(), "user", "I live in Lisbon.")
        rows = await exported(source)
        for broken in (
            rows[:-1],  # cut short: no end line
            [*rows[:-2], rows[-1]],  # a row lost: the end line's counts disagree
            [*rows, rows[0]],  # something after the end
            [{"tier": "gossip"}, *rows],
        ):
            with pytest.raises(InvalidInput):
                await target.records.import_rows(ANA, broken)
        # A row that breaks midway (a message of a session that is not there) undoes all.
        orphan = [r for r in rows if r["tier"] != "session"]
        orphan[-1] = {"tier": "end", "rows": {**rows[-1]["rows"], "session": 0}}
        with pytest.raises(Exception):  # noqa: B017 - the constraint's domain error
            await target.records.import_rows(ANA, orphan)
        assert [r["tier"] for r in await exported(target)] == ["end"]
    finally:
        await source.close()
        await target.close()


def test_the_cli_exports_and_imports(
    fresh_database: str, second_database: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    first = {"MEMSTRATA_DATABASE_URL": fresh_database}
    second = {"MEMSTRATA_DATABASE_URL": second_database}
    for env in (first, second):
        assert runner.invoke(cli, ["tenant", "create", "acme"], env=env).exit_code == 0
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"role": "user", "content": "I work as a pilot."}) + "\n")
    who = ["-t", "acme", "-u", "sam"]
    assert runner.invoke(cli, ["ingest", str(chat), *who], env=first).exit_code == 0
    assert runner.invoke(cli, ["worker", "--once"], env=first).exit_code == 0
    dump = tmp_path / "sam.jsonl"
    dumped = runner.invoke(cli, ["export", *who], env=first)
    assert dumped.exit_code == 0
    dump.write_text(dumped.stdout)
    loaded = runner.invoke(cli, ["import", str(dump), *who], env=second)
    assert loaded.exit_code == 0, loaded.output
    assert "imported" in loaded.output and "message" in loaded.output
    again = runner.invoke(cli, ["export", *who], env=second)
    assert again.stdout == dumped.stdout
    twice = runner.invoke(cli, ["import", str(dump), *who], env=second)
    assert twice.exit_code == 1 and "exists here already" in twice.output
