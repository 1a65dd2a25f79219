"""Metadata and threads: free-form, bounded metadata on users, sessions and messages, with
filters in recall and the lists; several conversation threads per user, which recall and
resume can target one at a time or all together — also after retention deleted the raw
messages, since fact sources keep their message's session and metadata."""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from memory.core.domain import Scope, Tier
from service.cli import app as cli
from service.client import SyncMemstrataClient
from service.container import Container
from tests.api_harness import Api, problem_of
from tests.conftest import TravelClock
from tests.services import Serve

ALICE = Scope("acme", "alice")


def session_path(sid: str, user: str = "alice") -> str:
    return f"/v1/users/{user}/sessions/{sid}"


async def say(api: Api, sid: str, content: str, **extra: Any) -> dict[str, Any]:
    response = await api.client.post(
        f"{session_path(sid)}/messages",
        json={"role": "user", "content": content, **extra},
        headers=api.as_a(),
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def get(api: Api, path: str, **params: Any) -> Any:
    response = await api.client.get(path, params=params, headers=api.as_a())
    assert response.status_code == 200, response.text
    return response.json()


async def test_sessions_live_in_threads_and_the_lists_filter_on_thread_and_metadata(
    api: Api,
) -> None:
    work, home = str(uuid.uuid4()), str(uuid.uuid4())
    await say(
        api,
        work,
        "The release is on Friday.",
        thread="work",
        session_metadata={"channel": "slack", "team": {"name": "core"}},
        metadata={"source": "desktop", "labels": ["release"]},
    )
    await say(api, work, "And the retro is after it.", metadata={"source": "phone"})
    await say(api, home, "Dinner with Ana tonight.", thread="home")
    state = await get(api, session_path(work))
    assert state["thread"] == "work"
    assert state["metadata"] == {"channel": "slack", "team": {"name": "core"}}

    listed = await get(api, f"{session_path(work)}/messages")
    assert [m["metadata"] for m in listed] == [
        {"source": "desktop", "labels": ["release"]},
        {"source": "phone"},
    ]
    phone = await get(api, f"{session_path(work)}/messages", metadata='{"source": "phone"}')
    assert [m["content"] for m in phone] == ["And the retro is after it."]
    tagged = await get(api, f"{session_path(work)}/messages", metadata='{"labels": ["release"]}')
    assert [m["content"] for m in tagged] == ["The release is on Friday."]

    in_work = await get(api, "/v1/users/alice/sessions", thread="work")
    assert [s["id"] for s in in_work] == [work] and in_work[0]["thread"] == "work"
    nested = await get(api, "/v1/users/alice/sessions", metadata='{"team": {"name": "core"}}')
    assert [s["id"] for s in nested] == [work]
    assert await get(api, "/v1/users/alice/sessions", thread="garden") == []
    threads = await get(api, "/v1/users/alice/threads")
    assert {(t["thread"], t["sessions"]) for t in threads} == {("work", 1), ("home", 1)}

    # A message that names another thread than its session's is refused, nothing written.
    wrong = await api.client.post(
        f"{session_path(work)}/messages",
        json={"role": "user", "content": "misfiled", "thread": "home"},
        headers=api.as_a(),
    )
    assert "thread" in str(problem_of(wrong, 409)["detail"])
    assert len(await get(api, f"{session_path(work)}/messages")) == 2
    # Without a thread, a session opens in "main".
    other = str(uuid.uuid4())
    await say(api, other, "No thread named.")
    assert (await get(api, session_path(other)))["thread"] == "main"


async def test_user_and_session_metadata_are_replaced_and_listed(api: Api) -> None:
    sid = str(uuid.uuid4())
    await say(api, sid, "hello", session_metadata={"v": 1})
    put = await api.client.put(
        f"{session_path(sid)}/metadata", json={"metadata": {"v": 2}}, headers=api.as_a()
    )
    assert put.status_code == 200 and put.json()["metadata"] == {"v": 2}
    assert put.headers["ETag"] == f'"{put.json()["version"]}"'
    assert (await get(api, session_path(sid)))["metadata"] == {"v": 2}, "the cache followed"
    missing = await api.client.put(
        f"{session_path(str(uuid.uuid4()))}/metadata", json={"metadata": {}}, headers=api.as_a()
    )
    problem_of(missing, 404)

    plan = {"plan": "pro", "locale": "pt-PT"}
    user = await api.client.put(
        "/v1/users/alice/metadata", json={"metadata": plan}, headers=api.as_a()
    )
    assert user.status_code == 200 and user.json()["metadata"] == plan
    assert (await get(api, "/v1/users/alice"))["metadata"] == plan
    # A new user id is created by its metadata, as by its first message.
    await api.client.put("/v1/users/bob/metadata", json={"metadata": {}}, headers=api.as_a())
    assert {u["id"] for u in await get(api, "/v1/users")} == {"alice", "bob"}
    pro = await get(api, "/v1/users", metadata='{"plan": "pro"}')
    assert [u["id"] for u in pro] == ["alice"]
    problem_of(await api.client.get("/v1/users/nobody", headers=api.as_a()), 404)


async def test_metadata_that_is_too_big_too_deep_or_not_an_object_is_a_clear_4xx(
    api: Api,
) -> None:
    sid = str(uuid.uuid4())
    deep: dict[str, Any] = {"x": 1}
    for _ in range(6):
        deep = {"x": deep}
    wrongs: list[dict[str, Any]] = [
        {"metadata": {"blob": "x" * 5000}},
        {"metadata": deep},
        {"metadata": {"nul": "a\u0000b"}},
        {"metadata": ["not", "an", "object"]},
        {"session_metadata": {"blob": "y" * 5000}},
        {"thread": "no\ncontrol characters"},
        {"thread": "   "},
        {"thread": ""},
    ]
    for wrong in wrongs:
        response = await api.client.post(
            f"{session_path(sid)}/messages",
            json={"role": "user", "content": "hi", **wrong},
            headers=api.as_a(),
        )
        assert response.status_code == 422, (wrong, response.text[:200])
        assert response.headers["content-type"] == "application/problem+json"
    problem_of(await api.client.get(session_path(sid), headers=api.as_a()), 404)  # not opened
    for bad in ("{not json", "[1, 2]", '"text"', "[" * 5000):
        response = await api.client.get(
            "/v1/users/alice/sessions", params={"metadata": bad}, headers=api.as_a()
        )
        problem_of(response, 422)
    big = await api.client.put(
        "/v1/users/alice/metadata", json={"metadata": {"b": "z" * 5000}}, headers=api.as_a()
    )
    problem_of(big, 422)


SAID = {  # thread: what Alice says there, on which device, in which app
    "home": ("I live in Lisbon with my dog Bruno.", "phone", "companion"),
    "work": (
        "I work as a data engineer at Northwind and our stack runs on Kubernetes.",
        "laptop",
        "copilot",
    ),
}


async def _two_threads_remembered(app: Container, clock: TravelClock) -> None:
    """Alice talks about home in one thread and about work in another; the worker extracts
    both; then retention deletes every raw message."""
    sessions = []
    for thread, (content, device, client) in SAID.items():
        sid = uuid.uuid4()
        sessions.append(sid)
        await app.sessions.append(
            ALICE,
            sid,
            "user",
            content,
            thread=thread,
            metadata={"device": device},
            session_metadata={"app": client},
        )
        clock.advance(minutes=5)
    clock.advance(hours=3)
    await app.worker.tick()
    await app.worker.embed()
    every = [m.id for sid in sessions for m in await app.transcripts.window(ALICE, sid)]
    assert await app.transcripts.delete(ALICE, every) == 2  # what retention does after 30 days


async def test_recall_targets_one_thread_or_all_even_after_retention(
    app: Container, clock: TravelClock
) -> None:
    await _two_threads_remembered(app, clock)
    everywhere = await app.recall.recall(ALICE, "where does she live and work", 20)
    texts = " ".join(h.text for h in everywhere)
    assert "Lisbon" in texts and "Northwind" in texts
    assert all(h.tier is not Tier.RAW for h in everywhere), "the raw messages are gone"

    home = await app.recall.recall(ALICE, "where does she live and work", 20, thread="home")
    assert home and "Lisbon" in " ".join(h.text for h in home)
    assert not [h for h in home if "Northwind" in h.text or "Kubernetes" in h.text]
    work = await app.recall.recall(ALICE, "where does she live and work", 20, thread="work")
    assert work and not [h for h in work if "Lisbon" in h.text or "Bruno" in h.text]
    assert await app.recall.recall(ALICE, "Lisbon", 20, thread="garden") == []

    listed = await app.facts.list_facts(ALICE, thread="work")
    assert listed and not [f for f in listed if "Lisbon" in f.text]
    phone = await app.facts.list_facts(ALICE, metadata='{"device": "phone"}')
    assert phone and not [f for f in phone if "Northwind" in f.text or "engineer" in f.text]
    laptop = await app.recall.recall(ALICE, "job", 20, metadata={"device": "laptop"})
    assert laptop and all(h.tier is Tier.FACTS for h in laptop)
    assert not [h for h in laptop if "Lisbon" in h.text]
    copilot = await app.recall.recall(ALICE, "dog", 20, session_metadata={"app": "companion"})
    assert copilot and not [h for h in copilot if "Northwind" in h.text]
    # A summary tells a whole session: a filter on message metadata leaves summaries out,
    # one on session metadata keeps the session's.
    by_session = await app.recall.recall(
        ALICE, "Kubernetes", 20, tiers=["summaries"], session_metadata={"app": "copilot"}
    )
    assert by_session and all(h.provenance.session_id for h in by_session)
    assert (
        await app.recall.recall(
            ALICE, "Kubernetes", 20, tiers=["summaries"], metadata={"device": "laptop"}
        )
        == []
    )

    # A memory added by hand belongs to every thread, but carries no message metadata.
    await app.curation.remember(ALICE, "profile", "Is allergic to peanuts", actor="test")
    await app.worker.embed()
    allergy = await app.recall.recall(ALICE, "peanut allergy", 5, thread="work")
    assert "peanuts" in allergy[0].text
    tagged = await app.recall.recall(ALICE, "peanut allergy", 20, metadata={"device": "phone"})
    assert not [h for h in tagged if "peanuts" in h.text]


async def test_resume_continues_the_thread_it_is_asked_for(
    app: Container, clock: TravelClock
) -> None:
    work, home = uuid.uuid4(), uuid.uuid4()
    await app.sessions.append(ALICE, work, "user", "Let's plan the Q3 roadmap.", thread="work")
    clock.advance(minutes=2)
    await app.sessions.append(ALICE, home, "user", "What should I cook tonight?", thread="home")
    clock.advance(minutes=1)
    latest = await app.resumer.resume(ALICE)
    assert latest.continues_session and latest.session_id == home and latest.thread == "home"
    in_work = await app.resumer.resume(ALICE, thread="work")
    assert in_work.continues_session and in_work.session_id == work
    assert in_work.thread == "work"
    assert "roadmap" in " ".join(m.content for m in in_work.restored)
    fresh = await app.resumer.resume(ALICE, thread="travel")
    assert not fresh.continues_session and fresh.thread == "travel"
    assert fresh.session_id not in (work, home)


async def test_threads_and_metadata_over_a_real_serve_and_the_cli(
    serve: Serve, fresh_database: str
) -> None:
    service, key = await serve(fresh_database)
    with SyncMemstrataClient(service.url, key) as client:
        work, home = str(uuid.uuid4()), str(uuid.uuid4())
        client.append(
            "sam",
            work,
            "user",
            "I work as a pilot for Azul.",
            thread="work",
            metadata={"source": "app"},
            session_metadata={"tier": "gold"},
        )
        client.append_batch(
            "sam",
            home,
            [{"role": "user", "content": "My cat Miso is sick.", "metadata": {"source": "web"}}],
            thread="home",
        )
        await service.worker_once()  # embeddings, facts
        assert {t.thread for t in client.threads("sam")} == {"work", "home"}
        assert [s.id for s in client.sessions("sam", thread="home")] == [uuid.UUID(home)]
        assert [m.content for m in client.transcript("sam", work, metadata={"source": "app"})]
        assert client.set_session_metadata("sam", work, {"tier": "silver"}).metadata == {
            "tier": "silver"
        }
        assert client.set_user_metadata("sam", {"plan": "pro"}).metadata == {"plan": "pro"}
        assert client.user("sam").metadata == {"plan": "pro"}
        assert [u.id for u in client.users(metadata={"plan": "pro"})] == ["sam"]
        hits = client.recall("sam", "pilot", 5, thread="home")
        assert not [h for h in hits if "pilot" in h.text]
        assert client.resume("sam", thread="work").session_id == uuid.UUID(work)

    env = {"MEMSTRATA_DATABASE_URL": fresh_database, "COLUMNS": "200"}
    who = ["--tenant", "acme", "--user", "sam"]

    def run(*args: str) -> Result:  # the CLI runs its own event loop: off this one
        return CliRunner().invoke(cli, [*args, *who], env=env)

    in_home = await asyncio.to_thread(run, "recall", "pilot", "--thread", "home")
    assert in_home.exit_code == 0, in_home.output
    assert "pilot" not in in_home.output and "Miso" in in_home.output
    tagged = await asyncio.to_thread(run, "recall", "cat", "--metadata", '{"source": "app"}')
    assert tagged.exit_code == 0 and "Miso" not in tagged.output
    resumed = await asyncio.to_thread(run, "resume", "--thread", "work")
    assert resumed.exit_code == 0 and "pilot" in resumed.output


def test_ingest_reads_metadata_and_thread_per_line(fresh_database: str, tmp_path: Path) -> None:
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    lines = [
        {"role": "user", "content": "Booked the flight.", "at": at, "thread": "travel"},
        {"role": "user", "content": "Window seat.", "at": at, "metadata": {"k": "v"}},
    ]
    source = tmp_path / "chat.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    env = {"MEMSTRATA_DATABASE_URL": fresh_database}
    who = ["--tenant", "acme", "--user", "sam"]
    assert CliRunner().invoke(cli, ["tenant", "create", "acme"], env=env).exit_code == 0
    assert CliRunner().invoke(cli, ["ingest", str(source), *who], env=env).exit_code == 0
    exported = CliRunner().invoke(cli, ["export", *who], env=env).output
    rows = [json.loads(line) for line in exported.splitlines() if line]
    (session,) = [r for r in rows if r["tier"] == "session"]
    assert session["thread"] == "travel"
    assert [r["metadata"] for r in rows if r["tier"] == "message"] == [{}, {"k": "v"}]
