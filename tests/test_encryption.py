"""Encryption at rest on real Postgres and Redis: raw content, session context and cached
state are sealed (no plaintext in any column, no full-text vector), every reader sees
plaintext, a sealed value does not open in another user's row, keys rotate in the
background, and a missing key is a clear error (503 problem+json over HTTP)."""

import base64
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text

from memory.core.crypto import Cipher, KeyMissing, build_cipher, decode_key
from memory.core.domain import Scope
from memory.core.errors import ConfigurationError, CorruptState
from memory.core.settings import EncryptionSettings, Settings
from memory.infra.rls import owner_transaction
from service.api import create_app
from service.container import Container, build_container
from tests.conftest import TravelClock

ANA = Scope("acme", "ana")
SECRET = "my passport number is X1234567 and I live at Rua das Flores 12"


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


async def open_app(
    url: str, clock: TravelClock, keys: dict[str, str], **extra: object
) -> Container:
    settings = Settings.model_validate({"database_url": url, "encryption": {"keys": keys}, **extra})
    return await build_container(settings, clock=clock)


@pytest.fixture
def k1() -> str:
    return new_key()


@pytest.fixture
async def app(fresh_database: str, clock: TravelClock, k1: str) -> AsyncIterator[Container]:
    container = await open_app(fresh_database, clock, {"k1": k1})
    yield container
    await container.close()


async def columns(app: Container, sql: str) -> list[object]:
    async with owner_transaction(app.database.engine) as conn:
        return list((await conn.execute(text(sql))).scalars().all())


async def test_content_and_context_are_sealed_and_every_reader_sees_plaintext(
    app: Container,
) -> None:
    sid = uuid.uuid4()
    await app.sessions.append(ANA, sid, "user", SECRET)
    state = await app.sessions.state(ANA, sid)
    await app.sessions.update(ANA, sid, state.version, topic="passport renewal")

    stored = await columns(app, "SELECT content FROM messages")
    assert stored and all("X1234567" not in str(c) and "Flores" not in str(c) for c in stored)
    assert await columns(app, "SELECT key_id FROM messages") == ["k1"]
    assert await columns(app, "SELECT tsv FROM messages") == [None]  # no words in the clear
    contexts = await columns(app, "SELECT context::text FROM sessions")
    assert all("passport" not in str(c) for c in contexts)
    payloads = await columns(app, "SELECT payload FROM session_cache")
    assert payloads
    for payload in payloads:
        assert isinstance(payload, bytes | memoryview) and b"X1234567" not in bytes(payload)

    assert (await app.transcripts.window(ANA, sid))[0].content == SECRET
    restored = await app.sessions.state(ANA, sid)
    assert restored.window[0].content == SECRET
    assert restored.context.topic == "passport renewal"
    await app.session_store.delete(ANA, sid)  # rebuilt from Postgres: opened there too
    assert (await app.sessions.state(ANA, sid)).context.topic == "passport renewal"
    await app.worker.embed()
    hits = await app.recall.recall(ANA, "what is my passport number?", k=1, tiers=["raw"])
    assert hits[0].text == SECRET
    exported = [row async for row in app.records.export(ANA)]
    assert any(r.get("content") == SECRET for r in exported)
    assert any(r.get("context", {}).get("topic") == "passport renewal" for r in exported)


async def test_a_retry_with_the_same_key_is_still_recognised(app: Container) -> None:
    sid = uuid.uuid4()
    first = await app.sessions.append(ANA, sid, "user", SECRET, idempotency_key="m-1")
    again = await app.sessions.append(ANA, sid, "user", SECRET, idempotency_key="m-1")
    assert again.replayed and again.message.id == first.message.id
    assert await columns(app, "SELECT count(*) FROM messages") == [1]


async def test_a_sealed_value_does_not_open_in_another_users_row(app: Container) -> None:
    await app.sessions.append(ANA, uuid.uuid4(), "user", SECRET)
    bob = Scope("acme", "bob")
    bob_sid = uuid.uuid4()
    await app.sessions.append(bob, bob_sid, "user", "hello")
    async with owner_transaction(app.database.engine) as conn:
        await conn.execute(
            text(
                "UPDATE messages SET content = (SELECT content FROM messages WHERE user_id = "
                "'ana') WHERE user_id = 'bob'"
            )
        )
    with pytest.raises(CorruptState):
        await app.transcripts.window(bob, bob_sid)


async def test_cached_state_in_redis_is_sealed(
    fresh_database: str, clock: TravelClock, k1: str, redis_url: str
) -> None:
    container = await open_app(fresh_database, clock, {"k1": k1}, redis_url=redis_url)
    try:
        sid = uuid.uuid4()
        await container.sessions.append(ANA, sid, "user", SECRET)
        client = aioredis.Redis.from_url(redis_url)
        entry = await client.hgetall(container.session_store.key(ANA, sid))
        await client.aclose()
        assert entry and b"X1234567" not in entry[b"d"]
        assert (await container.sessions.state(ANA, sid)).window[0].content == SECRET
    finally:
        await container.close()


async def test_keys_rotate_in_the_background_and_the_old_key_can_then_go(
    fresh_database: str, clock: TravelClock, k1: str
) -> None:
    plain = await open_app(fresh_database, clock, {})
    sid = uuid.uuid4()
    await plain.sessions.append(ANA, sid, "user", "written before encryption was on")
    state = await plain.sessions.state(ANA, sid)
    await plain.sessions.update(ANA, sid, state.version, topic="travel plans")
    await plain.close()
    first = await open_app(fresh_database, clock, {"k1": k1})
    await first.sessions.append(ANA, sid, "user", SECRET)
    assert await first.rotation.key_counts() == {"(plaintext)": 1, "k1": 1}
    await first.close()

    k2 = new_key()
    both = await open_app(fresh_database, clock, {"k1": k1, "k2": k2})  # k2, listed last, seals
    assert await both.worker.reseal() == 3  # two messages and one session context
    assert await both.rotation.key_counts() == {"k2": 2}
    assert await both.worker.reseal() == 0
    await both.close()

    only_k2 = await open_app(fresh_database, clock, {"k2": k2})
    try:
        window = await only_k2.transcripts.window(ANA, sid)
        assert [m.content for m in window] == ["written before encryption was on", SECRET]
        assert (await only_k2.sessions.state(ANA, sid)).context.topic == "travel plans"
        assert await only_k2.rotation.reseal_all() == 0
    finally:
        await only_k2.close()


async def test_a_missing_key_is_a_clear_error_and_a_503_over_http(
    fresh_database: str, clock: TravelClock, k1: str
) -> None:
    local = Scope("local", "ana")  # the tenant of requests when auth is off
    first = await open_app(fresh_database, clock, {"k1": k1})
    sid = uuid.uuid4()
    await first.sessions.append(local, sid, "user", SECRET)
    await first.close()

    without = await open_app(fresh_database, clock, {"k9": new_key()}, api={"auth": False})
    try:
        with pytest.raises(KeyMissing, match="'k1'"):
            await without.transcripts.window(local, sid)
        api = create_app(container=without)
        transport = httpx.ASGITransport(app=api)
        async with (
            api.router.lifespan_context(api),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            response = await client.get(f"/v1/users/ana/sessions/{sid}")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert "'k1'" in response.json()["detail"]
    finally:
        await without.close()


@pytest.mark.parametrize(
    ("keys", "active"),
    [
        ({"k1": "not base64!"}, None),
        ({"k1": base64.b64encode(b"short").decode()}, None),
        ({"k1": new_key()}, "k2"),
        ({}, "k1"),
    ],
)
def test_bad_key_settings_stop_the_start(keys: dict[str, str], active: str | None) -> None:
    with pytest.raises(ConfigurationError):
        build_cipher(EncryptionSettings.model_validate({"keys": keys, "active": active}))


def test_url_safe_keys_are_accepted() -> None:
    raw = os.urandom(32)
    assert decode_key("k", base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    cipher = Cipher({"k": raw}, "k")
    key_id, sealed = cipher.seal("hi", b"x")
    assert cipher.open(key_id, sealed, b"x") == "hi"
    with pytest.raises(CorruptState):
        cipher.open(key_id, sealed, b"y")
