"""The `/v1` REST API through httpx's ASGI transport on real Postgres: tenant keys, the
message and session endpoints with idempotency and versions, resume and recall, the tiers,
forget and export, problem+json errors, and every endpoint refused across tenants."""

import json
import logging
import uuid

import httpx
import pytest

from memory.core.errors import ConfigurationError
from memory.core.settings import Settings
from memory.infra.embedder import SentenceTransformerEmbedder
from service import logs
from service.api import create_app
from tests.api_harness import Api, make_api, problem_of
from tests.conftest import TravelClock

TIERS = ("user", "session", "message", "fact", "knowledge", "summary", "journal")


async def post_message(
    api: Api,
    sid: str,
    content: str,
    key: str | None = None,
    headers_extra: dict[str, str] | None = None,
    **extra: object,
) -> httpx.Response:
    headers = api.as_a() | ({"Idempotency-Key": key} if key else {}) | (headers_extra or {})
    return await api.client.post(
        f"/v1/users/alice/sessions/{sid}/messages",
        json={"role": "user", "content": content, **extra},
        headers=headers,
    )


async def test_keys_are_required_and_bound_to_their_tenant(api: Api) -> None:
    problem_of(await api.client.get("/v1/users/alice/facts"), 401)
    bad = {"Authorization": "Bearer ms_not-a-real-key"}
    problem_of(await api.client.get("/v1/users/alice/facts", headers=bad), 401)
    problem_of(await api.client.post("/v1/tenants", json={"id": "x"}, headers=api.as_a()), 403)
    assert (await api.client.get("/v1/users/alice/facts", headers=api.as_a())).json() == []


async def test_append_is_idempotent_and_versions_guard_updates(api: Api) -> None:
    sid = str(uuid.uuid4())
    first = await post_message(api, sid, "I work as a nurse.", key="m1", device_id="phone")
    assert first.status_code == 201 and first.json()["message"]["seq"] == 1
    again = await post_message(api, sid, "I work as a nurse.", key="m1", device_id="phone")
    assert again.status_code == 200 and again.json()["replayed"]
    assert again.json()["message"]["id"] == first.json()["message"]["id"]
    problem_of(await post_message(api, sid, "something else", key="m1"), 409)

    state = await api.client.get(f"/v1/users/alice/sessions/{sid}", headers=api.as_a())
    version = state.json()["version"]
    assert state.headers["ETag"] == f'"{version}"'
    path = f"/v1/users/alice/sessions/{sid}"
    problem_of(await api.client.patch(path, json={"topic": "x"}, headers=api.as_a()), 422)
    changed = await api.client.patch(
        path,
        json={"topic": "shift planning", "flow": {"name": "roster", "step": "days"}},
        headers=api.as_a() | {"If-Match": f'"{version}"'},
    )
    assert changed.status_code == 200 and changed.json()["context"]["topic"] == "shift planning"
    stale = await api.client.patch(
        path, json={"topic": "y"}, headers=api.as_a() | {"If-Match": f'"{version}"'}
    )
    problem_of(stale, 409)
    done = await api.client.post(
        path + "/complete-task", headers=api.as_a() | {"If-Match": changed.headers["ETag"]}
    )
    assert done.json()["context"]["flow"] is None


async def test_another_device_needs_an_explicit_takeover(api: Api) -> None:
    sid = str(uuid.uuid4())
    await post_message(api, sid, "on my phone", device_id="phone")
    path = f"/v1/users/alice/sessions/{sid}/open"
    body = problem_of(
        await api.client.post(path, json={"device_id": "laptop"}, headers=api.as_a()), 409
    )
    assert body["code"] == "other_device_active"
    taken = await api.client.post(
        path, json={"device_id": "laptop", "takeover": True}, headers=api.as_a()
    )
    assert taken.json()["device_id"] == "laptop"


async def test_recall_resume_and_tiers(api: Api) -> None:
    sid = str(uuid.uuid4())
    await post_message(api, sid, "I live in Porto and I love hiking.")
    api.container.clock.advance(hours=3)  # type: ignore[attr-defined]
    await api.container.worker.tick()
    facts = (await api.client.get("/v1/users/alice/facts", headers=api.as_a())).json()
    assert {f["text"] for f in facts} >= {"Lives in Porto", "Likes hiking"}
    hits = await api.client.post(
        "/v1/users/alice/recall", headers=api.as_a(), json={"query": "where does she live", "k": 3}
    )
    assert hits.json()[0]["text"] == "Lives in Porto"
    context = await api.client.post(
        "/v1/users/alice/resume", headers=api.as_a(), json={"message": "hiking tips?"}
    )
    assert context.json()["mode"] == "primed" and context.json()["messages"]
    summaries = await api.client.get("/v1/users/alice/summaries", headers=api.as_a())
    assert summaries.json()[0]["session_id"] == sid
    journal = await api.client.get("/v1/users/alice/journal", headers=api.as_a())
    assert journal.json()["version"] == 1
    assert (await api.client.get("/v1/users/alice/journal/versions/1", headers=api.as_a())).json()[
        "version"
    ] == 1
    problem_of(await api.client.get("/v1/users/alice/journal/versions/9", headers=api.as_a()), 404)


async def test_forget_leaves_nothing_to_read_or_export(api: Api) -> None:
    sid = str(uuid.uuid4())
    await post_message(api, sid, "I work as a pilot and my dog Rex hates flying.")
    api.container.clock.advance(hours=3)  # type: ignore[attr-defined]
    await api.container.worker.tick()
    exported = await api.client.get("/v1/users/alice/export", headers=api.as_a())
    tiers = {json.loads(line)["tier"] for line in exported.text.splitlines()}
    assert {"session", "message", "fact", "summary", "journal"} <= tiers
    assert (await api.client.delete("/v1/users/alice", headers=api.as_a())).status_code == 204
    nothing = (await api.client.get("/v1/users/alice/export", headers=api.as_a())).json()
    assert nothing == {"tier": "end", "rows": dict.fromkeys(TIERS, 0)}
    hits = await api.client.post(
        "/v1/users/alice/recall", headers=api.as_a(), json={"query": "pilot dog Rex"}
    )
    assert hits.json() == []
    problem_of(await api.client.get(f"/v1/users/alice/sessions/{sid}", headers=api.as_a()), 404)
    assert (await api.client.delete("/v1/users/alice", headers=api.as_a())).status_code == 204


async def test_every_endpoint_refuses_another_tenant(api: Api) -> None:
    sid = str(uuid.uuid4())
    await post_message(api, sid, "I work as a nurse in Porto.", device_id="phone")
    api.container.clock.advance(hours=3)  # type: ignore[attr-defined]
    await api.container.worker.tick()
    b = api.as_b()
    c = api.client
    base = "/v1/users/alice"
    for response in [
        await c.get(f"{base}/sessions/{sid}", headers=b),
        await c.patch(f"{base}/sessions/{sid}", json={"topic": "x"}, headers=b | {"If-Match": "1"}),
        await c.post(f"{base}/sessions/{sid}/complete-task", headers=b | {"If-Match": "1"}),
        await c.get(f"{base}/journal/versions/1", headers=b),
    ]:
        problem_of(response, 404)
    # The same session id is tenant B's own alice's session: it sees nothing of A's.
    theirs = await c.post(f"{base}/sessions/{sid}/open", json={"device_id": "phone"}, headers=b)
    assert theirs.status_code == 200 and theirs.json()["window"] == []
    sent = await c.post(
        f"{base}/sessions/{sid}/messages", json={"role": "user", "content": "hi"}, headers=b
    )
    assert sent.status_code == 201 and sent.json()["message"]["seq"] == 1
    await c.delete(base, headers=b)
    assert (await c.get(f"{base}/facts", headers=b)).json() == []
    assert (await c.get(f"{base}/knowledge", headers=b)).json() == []
    assert (await c.get(f"{base}/summaries", headers=b)).json() == []
    assert (await c.get(f"{base}/journal", headers=b)).json() is None
    assert (await c.get(f"{base}/journal/versions", headers=b)).json() == []
    assert (await c.post(f"{base}/recall", json={"query": "nurse Porto"}, headers=b)).json() == []
    resumed = (await c.post(f"{base}/resume", json={"message": "nurse"}, headers=b)).json()
    assert resumed["mode"] == "fresh" and "Porto" not in str(resumed["messages"])
    assert (await c.get(f"{base}/export", headers=b)).json()["rows"] == dict.fromkeys(TIERS, 0)
    assert (await c.delete(base, headers=b)).status_code == 204
    still = await c.get(f"{base}/facts", headers=api.as_a())
    assert any("nurse" in f["text"] for f in still.json()), "B's forget touched nothing of A"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"role": "user", "content": ""}, "content"),
        ({"role": "wizard", "content": "x"}, "role"),
        ({"role": "user", "content": "x", "extra": 1}, "extra"),
        ({"role": "user", "content": "x", "at": "2026-01-01T00:00:00"}, "at"),
    ],
)
async def test_bad_input_is_a_4xx_problem(api: Api, payload: dict[str, object], field: str) -> None:
    sid = str(uuid.uuid4())
    response = await api.client.post(
        f"/v1/users/alice/sessions/{sid}/messages", json=payload, headers=api.as_a()
    )
    body = problem_of(response, 422)
    assert field in str(body["detail"])
    problem_of(await api.client.get("/v1/users/alice/sessions/not-a-uuid", headers=api.as_a()), 422)
    problem_of(await api.client.get("/v1/users/bad%20id/facts", headers=api.as_a()), 422)


async def test_oversized_bodies_and_rate_limits(
    fresh_database: str, clock: TravelClock, embedder: SentenceTransformerEmbedder
) -> None:
    async for api in make_api(
        fresh_database, clock, embedder, max_body_bytes=2048, rate_per_s=1, rate_burst=3
    ):
        sid = str(uuid.uuid4())
        problem_of(await post_message(api, sid, "x" * 5000), 413)
        statuses = [
            (await api.client.get("/v1/users/alice/facts", headers=api.as_a())) for _ in range(4)
        ]
        limited = statuses[-1]
        problem_of(limited, 429)
        assert int(limited.headers["Retry-After"]) >= 1
        other = await api.client.get("/v1/users/alice/facts", headers=api.as_b())
        assert other.status_code == 200, "each key has its own bucket"


async def test_ops_endpoints(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    assert (await api.client.get("/readyz")).json()["database"] == "ok"
    await post_message(api, str(uuid.uuid4()), "hello")
    metrics = (await api.client.get("/metrics")).text
    assert "memstrata_request_seconds" in metrics and 'operation="append"' in metrics


def test_no_auth_is_refused_off_loopback() -> None:
    with pytest.raises(ConfigurationError, match="refusing"):
        create_app(Settings.model_validate({"api": {"auth": False, "host": "0.0.0.0"}}))
    create_app(Settings.model_validate({"api": {"auth": False, "host": "127.0.0.1"}}))


async def test_request_ids_reach_the_answer_and_the_log_events(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="memory.stores.sessions"):
        response = await post_message(
            api, str(uuid.uuid4()), "hello", headers_extra={"X-Request-Id": "req-abc"}
        )
    assert response.headers["X-Request-Id"] == "req-abc"
    session_events = [r for r in caplog.records if getattr(r, "layer", None) == "session"]
    assert session_events and all(r.request_id == "req-abc" for r in session_events)  # type: ignore[attr-defined]
    fresh = await api.client.get("/healthz")
    assert len(fresh.headers["X-Request-Id"]) == 32


def test_logs_are_json_lines_with_the_event_fields(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(json_lines=True)
    try:
        logging.getLogger("memory.stores.sessions").info(
            "session put written", extra={"layer": "session", "tenant": "acme", "op": "put"}
        )
        line = capsys.readouterr().err.strip().splitlines()[-1]
        event = json.loads(line)
        assert (event["layer"], event["tenant"], event["op"], event["level"]) == (
            "session",
            "acme",
            "put",
            "info",
        )
    finally:
        logging.getLogger().handlers.clear()


async def test_tenant_settings_change_the_mode_without_a_restart(api: Api) -> None:
    sid = str(uuid.uuid4())
    await post_message(api, sid, "hello")
    api.container.clock.advance(minutes=30)  # type: ignore[attr-defined]
    resume = {"message": "hi"}
    first = await api.client.post("/v1/users/alice/resume", json=resume, headers=api.as_a())
    assert first.json()["mode"] == "full_restore"
    changed = await api.client.put(
        "/v1/tenant/settings",
        headers=api.as_a(),
        json={"resumption": {"full_restore_max_gap_s": 600}},
    )
    assert changed.json()["resumption"]["full_restore_max_gap_s"] == 600
    after = await api.client.post("/v1/users/alice/resume", json=resume, headers=api.as_a())
    assert after.json()["mode"] == "primed"
    other = await api.client.get("/v1/tenant/settings", headers=api.as_b())
    assert other.json()["resumption"]["full_restore_max_gap_s"] == 7200, "per tenant"
    problem_of(
        await api.client.put(
            "/v1/tenant/settings", headers=api.as_a(), json={"lifecycle": {"soft_expiry_s": -1}}
        ),
        422,
    )


async def test_a_tenant_sets_its_redaction_and_a_bad_pattern_is_a_422(api: Api) -> None:
    body = {"reflection": {"redact": ["email"], "redact_patterns": {"member_id": "MBR-\\d+"}}}
    changed = await api.client.put("/v1/tenant/settings", headers=api.as_a(), json=body)
    assert changed.status_code == 200
    assert changed.json()["reflection"]["redact_patterns"] == {"member_id": "MBR-\\d+"}
    for bad in ({"redact_patterns": {"x": "("}}, {"redact": ["ssn"]}, {"redact": "email"}):
        problem = problem_of(
            await api.client.put(
                "/v1/tenant/settings", headers=api.as_a(), json={"reflection": bad}
            ),
            422,
        )
        assert "reflection" in str(problem["detail"])
    kept = await api.client.get("/v1/tenant/settings", headers=api.as_a())
    assert kept.json()["reflection"]["redact"] == ["email"], "a refused change writes nothing"


async def test_metrics_show_backlogs_and_job_outcomes(api: Api) -> None:
    await post_message(api, str(uuid.uuid4()), "I work as a baker.")
    api.container.clock.advance(hours=3)  # type: ignore[attr-defined]
    metrics = (await api.client.get("/metrics")).text
    assert 'memstrata_backlog{queue="embedding"} 1.0' in metrics
    await api.container.worker.tick()
    api.container.clock.advance(seconds=20)  # type: ignore[attr-defined]  # past the cache
    metrics = (await api.client.get("/metrics")).text
    assert 'memstrata_backlog{queue="extraction"} 0.0' in metrics
    assert 'memstrata_jobs_last_hour{kind="extract",status="ok"}' in metrics
