"""API keys: the admin and a tenant list, add, rename, expire and revoke keys; an expired or
revoked key is refused like an unknown one; a tenant never sees or touches another's keys;
the CLI does the same through its real entry point."""

import uuid
from datetime import timedelta

from typer.testing import CliRunner

from service.cli import app
from tests.api_harness import ADMIN, Api, problem_of
from tests.conftest import TravelClock

AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}


async def test_a_tenant_rotates_its_own_keys(api: Api, clock: TravelClock) -> None:
    c = api.client
    listed = (await c.get("/v1/tenant/keys", headers=api.as_a())).json()
    assert [k["name"] for k in listed] == ["default"]
    assert "api_key" not in listed[0] and "key_hash" not in listed[0]
    made = await c.post("/v1/tenant/keys", json={"name": "ci"}, headers=api.as_a())
    assert made.status_code == 201
    new = made.json()
    assert new["api_key"].startswith("ms_") and new["name"] == "ci"
    with_new = {"Authorization": f"Bearer {new['api_key']}"}
    assert (await c.get("/v1/users/alice/facts", headers=with_new)).status_code == 200
    # Move over, then revoke the old key: it is refused from the next request on.
    old = listed[0]["id"]
    assert (await c.delete(f"/v1/tenant/keys/{old}", headers=with_new)).status_code == 204
    problem_of(await c.get("/v1/users/alice/facts", headers=api.as_a()), 401)
    problem_of(await c.delete(f"/v1/tenant/keys/{old}", headers=with_new), 404)
    after = (await c.get("/v1/tenant/keys", headers=with_new)).json()
    assert [k["revoked_at"] is not None for k in after] == [True, False]

    # A key that expires works until then, and not after.
    soon = (clock() + timedelta(hours=1)).isoformat()
    brief = (
        await c.post(
            "/v1/tenant/keys", json={"name": "brief", "expires_at": soon}, headers=with_new
        )
    ).json()
    with_brief = {"Authorization": f"Bearer {brief['api_key']}"}
    assert (await c.get("/v1/users/alice/facts", headers=with_brief)).status_code == 200
    renamed = await c.patch(
        f"/v1/tenant/keys/{brief['key_id']}", json={"name": "nightly"}, headers=with_new
    )
    assert renamed.json()["name"] == "nightly" and renamed.json()["expires_at"] is not None
    clock.advance(hours=2)
    problem_of(await c.get("/v1/users/alice/facts", headers=with_brief), 401)
    # Extending it brings it back; never_expires clears the date.
    later = (clock() + timedelta(days=30)).isoformat()
    await c.patch(
        f"/v1/tenant/keys/{brief['key_id']}", json={"expires_at": later}, headers=with_new
    )
    assert (await c.get("/v1/users/alice/facts", headers=with_brief)).status_code == 200
    forever = await c.patch(
        f"/v1/tenant/keys/{brief['key_id']}", json={"never_expires": True}, headers=with_new
    )
    assert forever.json()["expires_at"] is None


async def test_keys_are_the_tenants_own(api: Api) -> None:
    c = api.client
    theirs = (await c.get("/v1/tenant/keys", headers=api.as_b())).json()[0]["id"]
    problem_of(await c.delete(f"/v1/tenant/keys/{theirs}", headers=api.as_a()), 404)
    problem_of(
        await c.patch(f"/v1/tenant/keys/{theirs}", json={"name": "x"}, headers=api.as_a()), 404
    )
    assert (await c.get("/v1/users/alice/facts", headers=api.as_b())).status_code == 200
    mine = (await c.get("/v1/tenant/keys", headers=api.as_a())).json()
    assert theirs not in {k["id"] for k in mine}


async def test_the_admin_looks_after_any_tenants_keys(api: Api, clock: TravelClock) -> None:
    c = api.client
    problem_of(await c.get("/v1/tenants/acme/keys", headers=api.as_a()), 403)
    listed = (await c.get("/v1/tenants/acme/keys", headers=AS_ADMIN)).json()
    assert len(listed) == 1
    problem_of(await c.get("/v1/tenants/nobody/keys", headers=AS_ADMIN), 404)
    problem_of(await c.post("/v1/tenants/nobody/keys", json={}, headers=AS_ADMIN), 404)
    made = await c.post("/v1/tenants/acme/keys", json={"name": "ops"}, headers=AS_ADMIN)
    assert made.status_code == 201 and made.json()["tenant_id"] == "acme"
    key_id = made.json()["key_id"]
    past = (clock() - timedelta(days=1)).isoformat()
    problem_of(
        await c.patch(
            f"/v1/tenants/acme/keys/{key_id}", json={"expires_at": past}, headers=AS_ADMIN
        ),
        422,
    )
    both = {"expires_at": (clock() + timedelta(days=1)).isoformat(), "never_expires": True}
    problem_of(await c.patch(f"/v1/tenants/acme/keys/{key_id}", json=both, headers=AS_ADMIN), 422)
    # The admin revokes within the tenant named: another tenant's path finds nothing.
    problem_of(await c.delete(f"/v1/tenants/globex/keys/{key_id}", headers=AS_ADMIN), 404)
    assert (await c.delete(f"/v1/tenants/acme/keys/{key_id}", headers=AS_ADMIN)).status_code == 204
    problem_of(await c.delete(f"/v1/tenants/acme/keys/{uuid.uuid4()}", headers=AS_ADMIN), 404)
    problem_of(await c.delete("/v1/tenants/acme/keys/not-a-uuid", headers=AS_ADMIN), 422)


def test_the_cli_lists_renames_expires_and_revokes_keys(fresh_database: str) -> None:
    env = {"MEMSTRATA_DATABASE_URL": fresh_database, "COLUMNS": "200"}
    runner = CliRunner()
    made = runner.invoke(
        app, ["tenant", "create", "acme", "--expires", "2099-01-01T00:00:00+00:00"], env=env
    )
    assert made.exit_code == 0, made.output
    listed = runner.invoke(app, ["tenant", "keys", "acme"], env=env)
    assert listed.exit_code == 0 and "2099-01-01" in listed.output
    key_id = next(w for w in listed.output.split() if w.count("-") == 4 and len(w) == 36)
    renamed = runner.invoke(
        app, ["tenant", "key", "acme", key_id, "--name", "ops", "--never-expires"], env=env
    )
    assert renamed.exit_code == 0 and "ops" in renamed.output and "never" in renamed.output
    assert runner.invoke(app, ["tenant", "revoke", "acme", key_id], env=env).exit_code == 0
    again = runner.invoke(app, ["tenant", "revoke", "acme", key_id], env=env)
    assert again.exit_code == 1 and "not found" in again.output
    missing = runner.invoke(app, ["tenant", "keys", "acmee"], env=env)
    assert missing.exit_code == 1 and "does not exist" in missing.output
