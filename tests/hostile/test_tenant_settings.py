"""One tenant's settings cannot stop another tenant's sweeps: every setting is range-checked
when set, a stored setting that is out of range (from an older version, or written by hand)
falls back to the defaults for that tenant only, and the sweeps run tenant by tenant."""

import json
from datetime import UTC, datetime, timedelta

from tests.hostile.conftest import Start, session


async def test_out_of_range_settings_are_refused(start: Start) -> None:
    running = await start()
    async with running.client() as c:
        for body in (
            {"lifecycle": {"hard_expiry_s": 3_000_000_000}},
            {"lifecycle": {"retention_s": 3_000_000_000}},
            {"lifecycle": {"soft_expiry_s": 0}},
            {"lifecycle": {"sweep_interval_s": 1}},  # the service's, not a tenant's
            {"resumption": {"primed_max_gap_s": 10**12}},
            {"resumption": {"budget_tokens": 10**9}},
            {"lifecycle": {"hard_expiry_s": 600}, "resumption": {"memories": 10**6}},
        ):
            refused = await c.put("/v1/tenant/settings", json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
        # All or nothing: the valid lifecycle of the last body was not written either.
        current = (await c.get("/v1/tenant/settings")).json()
        assert current["lifecycle"]["hard_expiry_s"] == 7200


async def test_a_bad_tenant_stops_no_other_tenants_sweep(start: Start) -> None:
    running = await start()
    three_hours_ago = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    sessions = {}
    for tenant in ("acme", "globex"):
        async with running.client(tenant) as c:
            sessions[tenant] = session()
            sent = await c.post(
                f"/v1/users/ana/sessions/{sessions[tenant]}/messages",
                json={"role": "user", "content": "I work as a nurse.", "at": three_hours_ago},
            )
            assert sent.status_code == 201
    # Written past the API, as an older version could have: out of every range.
    bad = json.dumps({"hard_expiry_s": 3_000_000_000, "retention_s": 3_000_000_000})
    await running.rows(
        "UPDATE tenants SET lifecycle = CAST(:v AS jsonb) WHERE id = 'acme' RETURNING 1", v=bad
    )
    output = await running.service.worker_once()  # exits 0: asserted inside
    assert "unusable lifecycle settings" in output
    for tenant in ("acme", "globex"):
        rows = await running.rows(
            "SELECT status FROM sessions WHERE tenant_id = :t AND id = CAST(:s AS uuid)",
            t=tenant,
            s=sessions[tenant],
        )
        assert rows == [("archived",)], tenant
        summaries = await running.rows(
            "SELECT count(*) FROM session_summaries WHERE tenant_id = :t", t=tenant
        )
        assert summaries == [(1,)], tenant
    async with running.client("acme") as c:
        settings = (await c.get("/v1/tenant/settings")).json()
        assert settings["lifecycle"]["hard_expiry_s"] == 7200, "the defaults, not the garbage"
