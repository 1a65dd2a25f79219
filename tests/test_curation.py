"""Single memories by hand — add, correct, delete, pin — over REST (in process and against a
real `memstrata serve`), through both clients, the CLI's real entry point and MCP: every
change in the ledger with who made it, nothing of one tenant reachable by another, bad input
a 4xx problem."""

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from typing import Any

import pytest

from memory.core.domain import Scope
from memory.core.errors import Conflict, NotFound
from service.client import MemstrataClient
from service.local_client import LocalClient
from tests.api_harness import Api, problem_of
from tests.conftest import TravelClock
from tests.services import Serve

BASE = "/v1/users/alice"


async def remember(
    api: Api, text: str, kind: str = "preference", **extra: object
) -> dict[str, Any]:
    response = await api.client.post(
        f"{BASE}/facts", json={"kind": kind, "text": text, **extra}, headers=api.as_a()
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_add_correct_pin_and_delete_a_memory(api: Api, clock: TravelClock) -> None:
    added = await remember(api, "Prefers tea to coffee", importance=0.9)
    assert (added["kind"], added["confidence"], added["importance"]) == ("preference", 1.0, 0.9)
    assert added["source_message_ids"] == [] and added["pinned"] is False
    again = await remember(api, "prefers tea to coffee.")
    assert again["id"] == added["id"], "the same statement is stored once"

    before = clock() + timedelta(seconds=1)
    clock.advance(hours=1)
    corrected = await api.client.post(
        f"{BASE}/facts/{added['id']}/correction",
        json={"text": "Prefers green tea, no coffee at all"},
        headers=api.as_a(),
    )
    assert corrected.status_code == 201, corrected.text
    new = corrected.json()
    assert new["kind"] == "preference" and new["importance"] == 0.9
    current = (await api.client.get(f"{BASE}/facts", headers=api.as_a())).json()
    assert [f["text"] for f in current] == ["Prefers green tea, no coffee at all"]
    then = await api.client.get(
        f"{BASE}/facts", params={"as_of": before.isoformat()}, headers=api.as_a()
    )
    assert [f["text"] for f in then.json()] == ["Prefers tea to coffee"], "as_of sees the past"
    stale = await api.client.post(
        f"{BASE}/facts/{added['id']}/correction", json={"text": "x"}, headers=api.as_a()
    )
    problem_of(stale, 409)

    # Pinned, a memory of any kind opens every resumption context, a fresh start included.
    observed = await remember(api, "Keeps a spare key under the blue pot", kind="observation")
    pinned = await api.client.put(f"{BASE}/facts/{observed['id']}/pin", headers=api.as_a())
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True
    context = (await api.client.post(f"{BASE}/resume", json={}, headers=api.as_a())).json()
    assert "spare key under the blue pot" in str(context["messages"])
    # A correction of a pinned fact stays pinned.
    moved = await api.client.post(
        f"{BASE}/facts/{observed['id']}/correction",
        json={"text": "Keeps a spare key with the neighbour"},
        headers=api.as_a(),
    )
    assert moved.json()["pinned"] is True
    unpinned = await api.client.delete(f"{BASE}/facts/{moved.json()['id']}/pin", headers=api.as_a())
    assert unpinned.json()["pinned"] is False

    # Deleting a fact takes every insight that cites it (the library writes two insights).
    alice = Scope("acme", "alice")
    insight = await api.container.knowledge.add(alice, "Tea, not coffee", [new["id"]])
    other = await api.container.facts.insert(alice, "relation", "Has a sister named Ana")
    kept = await api.container.knowledge.add(alice, "Family: Ana", [other.id])
    gone = await api.client.delete(f"{BASE}/facts/{new['id']}", headers=api.as_a())
    assert gone.status_code == 204
    left = (await api.client.get(f"{BASE}/knowledge", headers=api.as_a())).json()
    assert [k["id"] for k in left] == [str(kept.id)]
    assert str(insight.id) not in str(left)
    problem_of(await api.client.delete(f"{BASE}/facts/{new['id']}", headers=api.as_a()), 404)
    dropped = await api.client.delete(f"{BASE}/knowledge/{kept.id}", headers=api.as_a())
    assert dropped.status_code == 204
    assert (await api.client.get(f"{BASE}/knowledge", headers=api.as_a())).json() == []

    # Every change is in the ledger, with the key that made it.
    runs = (await api.client.get(f"{BASE}/runs", headers=api.as_a())).json()
    by_hand = [r for r in runs if r["kind"].startswith("memory.")]
    assert {r["kind"] for r in by_hand} >= {
        "memory.remember",
        "memory.correct",
        "memory.pin",
        "memory.unpin",
        "memory.delete",
        "memory.delete_insight",
    }
    assert all(r["actor"].startswith("key:") for r in by_hand)
    assert any(r["subject_id"] == new["id"] and r["kind"] == "memory.delete" for r in by_hand)


async def test_another_tenant_cannot_touch_a_memory(api: Api) -> None:
    mine = await remember(api, "Allergic to peanuts", kind="profile")
    b = api.as_b()
    c = api.client
    fact = f"{BASE}/facts/{mine['id']}"
    for response in [
        await c.post(f"{fact}/correction", json={"text": "Allergic to nothing"}, headers=b),
        await c.delete(fact, headers=b),
        await c.put(f"{fact}/pin", headers=b),
        await c.delete(f"{fact}/pin", headers=b),
        # Nor another user of the same tenant.
        await c.delete(f"/v1/users/bob/facts/{mine['id']}", headers=api.as_a()),
    ]:
        problem_of(response, 404)
    # B's own alice is another user: what B adds stays B's.
    theirs = await c.post(f"{BASE}/facts", json={"kind": "profile", "text": "B's"}, headers=b)
    assert theirs.status_code == 201
    still = (await c.get(f"{BASE}/facts", headers=api.as_a())).json()
    assert [f["text"] for f in still] == ["Allergic to peanuts"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "mood", "text": "happy"}, "kind"),
        ({"kind": "profile", "text": ""}, "text"),
        ({"kind": "profile", "text": "x", "importance": 2}, "importance"),
        ({"kind": "profile", "text": "x", "extra": 1}, "extra"),
    ],
)
async def test_a_bad_memory_is_a_4xx_problem(api: Api, payload: dict[str, Any], field: str) -> None:
    response = await api.client.post(f"{BASE}/facts", json=payload, headers=api.as_a())
    assert field in str(problem_of(response, 422)["detail"])
    missing = f"{BASE}/facts/{uuid.uuid4()}"
    problem_of(await api.client.put(f"{missing}/pin", headers=api.as_a()), 404)
    problem_of(await api.client.delete(f"{BASE}/facts/not-a-uuid", headers=api.as_a()), 422)
    too_long = {"kind": "profile", "text": "x" * 200_000}
    problem_of(await api.client.post(f"{BASE}/facts", json=too_long, headers=api.as_a()), 422)


async def test_hand_added_text_is_redacted_like_extraction(api: Api) -> None:
    added = await remember(api, "My card is 4111 1111 1111 1111, keep it", kind="profile")
    assert "4111" not in added["text"]


async def test_the_clients_over_a_real_serve_and_in_process(
    serve: Serve, fresh_database: str
) -> None:
    service, key = await serve(fresh_database)
    remote = MemstrataClient(service.url, key)
    try:
        fact = await remote.remember("ana", "relation", "Has a sister named Rosa", pinned=True)
        assert fact.pinned
        fixed = await remote.correct("ana", str(fact.id), "Has a sister named Rosa Maria")
        assert [f.text for f in await remote.facts("ana")] == ["Has a sister named Rosa Maria"]
        everything = await remote.facts("ana", include_superseded=True)
        assert len(everything) == 2
        assert (await remote.unpin("ana", str(fixed.id))).pinned is False
        await remote.delete_fact("ana", str(fixed.id))
        assert await remote.facts("ana") == []
    finally:
        await remote.close()


async def test_the_local_client_raises_domain_errors(api: Api) -> None:
    local = LocalClient(api.container, "acme", actor="cli")
    fact = await local.remember("alice", "plan", "Plans to visit Kyoto in April")
    await local.correct("alice", str(fact.id), "Plans to visit Kyoto in May")
    with pytest.raises(Conflict):
        await local.correct("alice", str(fact.id), "again")
    with pytest.raises(NotFound):
        await local.delete_fact("alice", str(uuid.uuid4()))
    runs = await api.container.ledger.recent(Scope("acme", "alice"))
    assert {r["actor"] for r in runs if r["kind"].startswith("memory.")} == {"cli"}


def test_the_cli_looks_after_one_memory(fresh_database: str) -> None:
    env = {**os.environ, "MEMSTRATA_DATABASE_URL": fresh_database, "HF_HUB_OFFLINE": "1"}

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "service", "memory", *args, "-t", "acme", "-u", "ana"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    created = subprocess.run(
        [sys.executable, "-m", "service", "tenant", "create", "acme"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert created.returncode == 0, created.stderr
    fact_id = cli("add", "profile", "Works as a nurse in Porto", "--pin")
    new_id = cli("correct", fact_id, "Works as a midwife in Porto")
    assert new_id != fact_id
    listed = cli("list")
    assert "midwife" in listed and "nurse" not in listed
    cli("unpin", new_id)
    cli("delete", new_id)
    assert "midwife" not in cli("list")
    missing = subprocess.run(
        [sys.executable, "-m", "service", "memory", "delete", str(uuid.uuid4()), "-t", "acme"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert missing.returncode == 1 and "not found" in missing.stderr
