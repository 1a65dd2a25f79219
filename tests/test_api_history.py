"""The read-only endpoints for looking back at a user (what the inspector at /ui shows):
the tenant's users, a user's sessions with their summaries, a session's transcript and the
facts extracted from it (which outlive the transcript), messages by id, and the run ledger."""

import uuid

from tests.api_harness import Api, problem_of
from tests.conftest import TravelClock


async def say(api: Api, clock: TravelClock, sid: uuid.UUID, *lines: str) -> None:
    for line in lines:
        sent = await api.client.post(
            f"/v1/users/alice/sessions/{sid}/messages",
            json={"role": "user", "content": line, "device_id": "phone"},
            headers=api.as_a(),
        )
        assert sent.status_code == 201, sent.text
        clock.advance(minutes=1)


async def test_the_timeline_transcripts_and_facts_per_session(api: Api, clock: TravelClock) -> None:
    porto, lisbon = uuid.uuid4(), uuid.uuid4()
    await say(api, clock, porto, "I live in Porto.", "I love hiking.")
    clock.advance(hours=3)  # idle past hard expiry: extracted, summarized, archived
    await api.container.worker.tick()
    clock.advance(days=20)
    await say(api, clock, lisbon, "Big news: I moved to Lisbon!")
    clock.advance(minutes=5)
    await api.container.worker.extract_due()

    timeline = (await api.client.get("/v1/users/alice/sessions", headers=api.as_a())).json()
    assert [s["id"] for s in timeline] == [str(lisbon), str(porto)]
    newest, oldest = timeline
    assert (newest["status"], newest["turns"], newest["retained"]) == ("active", 1, 1)
    assert (oldest["status"], oldest["turns"], oldest["retained"]) == ("archived", 2, 2)
    assert newest["summary"] is None and "Porto" in oldest["topics"]  # a name keeps its case

    path = f"/v1/users/alice/sessions/{porto}"
    transcript = (await api.client.get(f"{path}/messages", headers=api.as_a())).json()
    assert [(m["seq"], m["content"]) for m in transcript] == [
        (1, "I live in Porto."),
        (2, "I love hiking."),
    ]
    later = await api.client.get(f"{path}/messages?after_seq=1", headers=api.as_a())
    assert [m["seq"] for m in later.json()] == [2]

    facts = {
        f["text"]: f for f in (await api.client.get(f"{path}/facts", headers=api.as_a())).json()
    }
    replaced = facts["Lives in Porto"]
    assert replaced["valid_to"] is not None and replaced["superseded_by"] is not None
    replacement = (
        await api.client.get(f"/v1/users/alice/sessions/{lisbon}/facts", headers=api.as_a())
    ).json()
    assert replaced["superseded_by"] in {f["id"] for f in replacement}

    clock.advance(days=40)  # retention deletes the archived transcript; its facts stay linked
    await api.container.worker.tick()
    porto_now = next(
        s
        for s in (await api.client.get("/v1/users/alice/sessions", headers=api.as_a())).json()
        if s["id"] == str(porto)
    )
    assert (porto_now["turns"], porto_now["retained"]) == (2, 0)
    assert (await api.client.get(f"{path}/messages", headers=api.as_a())).json() == []
    still = (await api.client.get(f"{path}/facts", headers=api.as_a())).json()
    assert {f["text"] for f in still} == set(facts)


async def test_messages_by_id_runs_and_users(api: Api, clock: TravelClock) -> None:
    sid = uuid.uuid4()
    await say(api, clock, sid, "I live in Porto.")
    clock.advance(minutes=5)
    await api.container.worker.extract_due()
    hits = (
        await api.client.post(
            "/v1/users/alice/recall", json={"query": "where do I live?", "k": 5}, headers=api.as_a()
        )
    ).json()
    cited = {i for hit in hits for i in hit["provenance"]["message_ids"]}
    query = "&".join(f"id={i}" for i in [*cited, str(uuid.uuid4())])
    found = (await api.client.get(f"/v1/users/alice/messages?{query}", headers=api.as_a())).json()
    assert {m["id"] for m in found} == cited and found[0]["content"] == "I live in Porto."
    assert (
        await api.client.get(f"/v1/users/bob/messages?{query}", headers=api.as_a())
    ).json() == []
    problem_of(await api.client.get("/v1/users/alice/messages?id=nope", headers=api.as_a()), 422)

    runs = (await api.client.get("/v1/users/alice/runs", headers=api.as_a())).json()
    assert [(r["kind"], r["status"], r["session_id"]) for r in runs] == [
        ("extract", "ok", str(sid))
    ]
    assert runs[0]["wall_ms"] >= 0 and runs[0]["error"] is None
    problem_of(await api.client.get("/v1/users/alice/runs?limit=0", headers=api.as_a()), 422)

    await api.client.post(
        f"/v1/users/bob/sessions/{uuid.uuid4()}/messages",
        json={"role": "user", "content": "hello"},
        headers=api.as_a(),
    )
    listed = (await api.client.get("/v1/users", headers=api.as_a())).json()
    assert {u["id"]: u["sessions"] for u in listed} == {"alice": 1, "bob": 1}
    assert (await api.client.get("/v1/users", headers=api.as_b())).json() == []


async def test_an_unknown_session_is_a_404(api: Api) -> None:
    path = f"/v1/users/alice/sessions/{uuid.uuid4()}"
    problem_of(await api.client.get(f"{path}/messages", headers=api.as_a()), 404)
    problem_of(await api.client.get(f"{path}/facts", headers=api.as_a()), 404)
    problem_of(await api.client.get("/v1/users/alice/sessions/x/facts", headers=api.as_a()), 422)


async def test_resume_reports_its_token_budget(api: Api) -> None:
    body = (await api.client.post("/v1/users/alice/resume", json={}, headers=api.as_a())).json()
    assert body["budget_tokens"] == 1500 and 0 < body["tokens"] <= 1500


async def test_the_inspector_is_served_without_a_key(api: Api) -> None:
    """The page itself holds no data (every read it makes needs the tenant's key)."""
    moved = await api.client.get("/ui")
    assert moved.status_code in (307, 308) and moved.headers["location"].endswith("/ui/")
    page = await api.client.get("/ui/")
    assert page.status_code == 200 and "memstrata inspector" in page.text
    script = await api.client.get("/ui/inspector.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    problem_of(await api.client.get("/v1/users"), 401)
