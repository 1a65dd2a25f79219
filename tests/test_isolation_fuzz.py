"""Isolation fuzz over the API: three tenants with three users each, every user's tiers
seeded with a marker word of their own; then every endpoint is called with every tenant's
key for every user path and every session id of every other owner (about 1,900 requests),
and with unknown, malformed and other tenants' keys.
No answer may carry another owner's marker, every read of a foreign session id is a 404
(a write with one opens a session of the caller's own), and no row
is written into another owner's data."""

import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from memory.core.domain import Scope
from memory.core.settings import Settings
from memory.infra.embedder import SentenceTransformerEmbedder
from memory.infra.rls import owner_transaction
from memory.stores.journal import note
from service.api import create_app
from service.container import Container, build_container
from tests.conftest import TravelClock

ADMIN = "isolation-admin"
TENANTS = ("north", "south", "east", "west")
USERS = ("ana", "ben", "cai", "dee")


def marker(tenant: str, user: str) -> str:
    return f"zq{tenant[:2]}{user}x"  # one unlikely word per owner


def tenant_marker(tenant: str) -> str:
    return f"zqorg{tenant}x"  # in the metadata of every user of the tenant


@dataclass
class World:
    client: httpx.AsyncClient
    container: Container
    keys: dict[str, str]
    sessions: dict[tuple[str, str], uuid.UUID]
    message_ids: list[str]  # of every owner


@pytest.fixture
async def world(
    fresh_database: str, clock: TravelClock, embedder: SentenceTransformerEmbedder
) -> AsyncIterator[World]:
    settings = Settings.model_validate(
        {
            "database_url": fresh_database,
            "api": {
                "admin_key": ADMIN,
                "rate_burst": 1_000_000,
                "rate_per_s": 1_000_000,
                "auth_failure_burst": 1_000_000,
            },
            "reflection": {"extraction": "rules"},
        }
    )
    container = await build_container(settings, clock=clock, embedder=embedder)
    app = create_app(container=container)
    sessions, message_ids = {}, []
    for tenant, user in itertools.product(TENANTS, USERS):
        scope, word, sid = Scope(tenant, user), marker(tenant, user), uuid.uuid4()
        sessions[(tenant, user)] = sid
        sent = await container.sessions.append(
            scope,
            sid,
            "user",
            f"My codeword is {word}.",
            metadata={"tag": "codeword", "word": word},
            thread="secret",
            session_metadata={"tag": "codeword", "word": word},
        )
        await container.labels.set_user(scope, {"org": tenant_marker(tenant)})
        message_ids.append(str(sent.message.id))
        fact = await container.facts.insert(
            scope, "profile", f"Codeword {word}", source_message_ids=[sent.message.id]
        )
        await container.knowledge.add(scope, f"The codeword {word} matters", [fact.id])
        await container.summaries.put(
            scope, sid, f"Talked about {word}", started_at=clock.now, ended_at=clock.now
        )
        await container.journal.append(scope, [note(f"The {word} story")])
        with contextlib.suppress(RuntimeError):  # a failed run whose error names the marker
            async with container.ledger.run("extract", scope, sid):
                raise RuntimeError(f"could not extract {word}")
    await container.worker.embed()
    admin = {"Authorization": f"Bearer {ADMIN}"}
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        ):
            keys = {}
            for tenant in TENANTS:
                made = await client.post("/v1/tenants", json={"id": tenant}, headers=admin)
                keys[tenant] = made.json()["api_key"]
            yield World(client, container, keys, sessions, message_ids)
    finally:
        await container.close()


def user_requests(
    user: str, message_ids: list[str]
) -> list[tuple[str, str, dict[str, object] | None]]:
    base = f"/v1/users/{user}"
    every_message = "&".join(f"id={i}" for i in message_ids)
    return [
        ("get", f"{base}/sessions", None),
        ("get", f"{base}/runs", None),
        ("get", f"{base}/messages?{every_message}", None),
        ("post", f"{base}/recall", {"query": "what is my codeword?", "k": 20}),
        ("post", f"{base}/resume", {"message": "what was my codeword again?"}),
        ("get", f"{base}/facts", None),
        ("get", f"{base}/knowledge", None),
        ("get", f"{base}/summaries", None),
        ("get", f"{base}/journal", None),
        ("get", f"{base}/journal/versions", None),
        ("get", f"{base}/journal/versions/1", None),
        ("get", f"{base}/export", None),
        ("get", base, None),
        ("get", f"{base}/threads", None),
        ("get", f'{base}/sessions?thread=secret&metadata={{"tag":"codeword"}}', None),
        ("post", f"{base}/recall", {"query": "codeword", "k": 20, "thread": "secret"}),
        ("post", f"{base}/recall", {"query": "codeword", "metadata": {"tag": "codeword"}}),
        ("post", f"{base}/recall", {"query": "codeword", "session_metadata": {"tag": "codeword"}}),
        ("post", f"{base}/resume", {"message": "my codeword?", "thread": "secret"}),
    ]


def recall_request(user: str) -> tuple[str, dict[str, object]]:
    return f"/v1/users/{user}/recall", {"query": "what is my codeword?", "k": 20}


def session_reads(user: str, sid: uuid.UUID) -> list[tuple[str, str, dict[str, object]]]:
    """What may only touch an existing session: another owner's session id is a 404."""
    path = f"/v1/users/{user}/sessions/{sid}"
    return [
        ("get", path, {}),
        ("patch", path, {"topic": "hijacked"}),
        ("post", f"{path}/complete-task", {}),
        ("get", f"{path}/messages", {}),
        ("get", f"{path}/facts", {}),
        ("get", f'{path}/messages?metadata={{"tag":"codeword"}}', {}),
        ("put", f"{path}/metadata", {"metadata": {"hijacked": True}}),
    ]


def session_writes(user: str, sid: uuid.UUID) -> list[tuple[str, str, dict[str, object]]]:
    """What opens a session: another owner's session id opens one of the caller's own."""
    path = f"/v1/users/{user}/sessions/{sid}"
    return [
        ("post", f"{path}/open", {"device_id": "intruder"}),
        ("post", f"{path}/messages", {"role": "user", "content": "planted by an intruder"}),
    ]


async def call(world: World, tenant: str, method: str, path: str, body: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world.keys[tenant]}", "If-Match": '"1"'}
    if method == "get":
        return await world.client.get(path, headers=headers)
    response: httpx.Response = await getattr(world.client, method)(path, json=body, headers=headers)
    return response


async def owner_sees_their_own(world: World, tenant: str, user: str) -> None:
    """The endpoints answer something for the owner: an empty answer leaks nothing, but it
    would prove nothing either."""
    mine, sid = marker(tenant, user), str(world.sessions[(tenant, user)])
    own = await call(world, tenant, "post", *recall_request(user))
    assert mine in own.text
    for method, path, _ in user_requests(user, world.message_ids)[:3]:  # the read models
        seen = (await call(world, tenant, method, path, None)).text
        assert mine in seen or sid in seen, (path, seen)


async def foreign_session(
    world: World, tenant: str, user: str, sid: uuid.UUID, others: list[str]
) -> int:
    """Another owner's session id: reads are 404s, writes open the caller's own session;
    no answer carries another owner's marker. Returns the number of requests made."""
    for method, path, body in session_reads(user, sid):
        response = await call(world, tenant, method, path, body)
        assert response.status_code == 404, (tenant, user, path, response.text)
        assert not [w for w in others if w in response.text]
    for method, path, body in session_writes(user, sid):
        response = await call(world, tenant, method, path, body)
        assert response.status_code in (200, 201), (path, response.text)
        assert not [w for w in others if w in response.text]
    return len(session_reads(user, sid)) + len(session_writes(user, sid))


async def test_no_endpoint_reads_or_writes_across_tenants_or_users(world: World) -> None:
    requests = 0
    owners = list(itertools.product(TENANTS, USERS))
    for tenant, user in itertools.product(TENANTS, USERS):
        others = [marker(t, u) for t, u in owners if (t, u) != (tenant, user)]
        for method, path, body in user_requests(user, world.message_ids):
            response = await call(world, tenant, method, path, body)
            requests += 1
            assert response.status_code < 500, (path, response.text[:300])
            leaked = [word for word in others if word in response.text]
            assert not leaked, (tenant, user, path, leaked)
        await owner_sees_their_own(world, tenant, user)
        for owner, sid in world.sessions.items():
            if owner != (tenant, user):
                requests += await foreign_session(world, tenant, user, sid, others)
    assert requests > 1_000
    for tenant in TENANTS:  # the one tenant-wide list: the tenant's users, never another's
        listed = await call(world, tenant, "get", "/v1/users", None)
        assert tenant_marker(tenant) in listed.text
        assert not [t for t in TENANTS if t != tenant and tenant_marker(t) in listed.text]
        assert len(listed.json()) == len(USERS)

    for key in ("", "garbage", world.keys["north"] + "x", world.keys["north"][:-1]):
        for method, path, body in user_requests("ana", world.message_ids):
            headers = {"Authorization": f"Bearer {key}"}
            response = await world.client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (key, path, response.text)
            assert not [w for w in map(marker, TENANTS, USERS) if w in response.text]

    await nothing_written_into_another_owners_session(world)


async def nothing_written_into_another_owners_session(world: World) -> None:
    async with owner_transaction(world.container.database.engine) as conn:
        per_session = (
            await conn.execute(
                text(
                    "SELECT s.tenant_id, s.user_id, s.id, count(m.id) AS n, "
                    "count(m.id) FILTER (WHERE m.content LIKE '%intruder%') AS planted "
                    "FROM sessions s JOIN messages m ON m.tenant_id = s.tenant_id "
                    "AND m.user_id = s.user_id AND m.session_id = s.id "
                    "GROUP BY s.tenant_id, s.user_id, s.id"
                )
            )
        ).all()
        topics = await conn.scalar(
            text(
                "SELECT count(*) FROM sessions "
                "WHERE context::text LIKE '%hijacked%' OR metadata ? 'hijacked'"
            )
        )
    assert topics == 0, "no session's context was changed through another owner's id"
    for row in per_session:
        if world.sessions[(row.tenant_id, row.user_id)] == row.id:
            assert (row.n, row.planted) == (1, 0), "nothing written into an owner's session"
        else:  # opened by the caller itself, with an id another owner also uses
            assert row.n == row.planted
