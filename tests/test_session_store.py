"""One contract for both session stores, run against real Redis and real Postgres: versions
only move forward, entries expire with the hard window, large states are compressed, and
every kind of corrupt entry is detected rather than trusted."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
import zstandard
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.domain import Scope
from memory.core.errors import CorruptState
from memory.core.session_state import (
    COMPRESS_ABOVE_BYTES,
    Context,
    Flow,
    SessionState,
    WindowMessage,
    encode,
)
from memory.infra.rls import transaction
from memory.stores.session_store import PostgresSessionStore, RedisSessionStore, SessionStore
from memory.stores.transcripts import TranscriptStore
from tests.conftest import TravelClock

ALICE = Scope("acme", "alice")
AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def make_state(
    sid: uuid.UUID, version: int = 1, scope: Scope = ALICE, text_: str = "hi"
) -> SessionState:
    return SessionState(
        session_id=sid,
        tenant_id=scope.tenant_id,
        user_id=scope.user_id,
        device_id="phone",
        status="active",
        window=(WindowMessage(id=uuid.uuid4(), seq=1, role="user", content=text_, created_at=AT),),
        context=Context(flow=Flow(name="booking", step="dates", variables={"nights": 2})),
        turn_count=1,
        started_at=AT,
        last_active_at=AT,
        version=version,
    )


@dataclass
class Harness:
    store: SessionStore
    write_raw: Callable[[Scope, uuid.UUID, bytes, bytes], Awaitable[None]]
    expire: Callable[[], Awaitable[None]]
    session: Callable[[Scope], Awaitable[uuid.UUID]]


@pytest.fixture(params=["redis", "postgres"])
async def harness(
    request: pytest.FixtureRequest, redis_url: str, engine: AsyncEngine, clock: TravelClock
) -> AsyncIterator[Harness]:
    transcripts = TranscriptStore(engine, clock, 1000)

    async def session(scope: Scope) -> uuid.UUID:  # the Postgres store needs a real session
        return (await transcripts.append(scope, uuid.uuid4(), "user", "hello")).session_id

    if request.param == "redis":
        store = RedisSessionStore(redis_url)
        raw = aioredis.Redis.from_url(redis_url)

        async def write_raw(scope: Scope, sid: uuid.UUID, version: bytes, payload: bytes) -> None:
            await raw.hset(store.key(scope, sid), mapping={"v": version, "d": payload})

        async def expire() -> None:
            await asyncio.sleep(1.2)

        yield Harness(store, write_raw, expire, session)
        await raw.aclose()
        await store.close()
        return

    pg = PostgresSessionStore(engine, clock)

    async def pg_write_raw(scope: Scope, sid: uuid.UUID, version: bytes, payload: bytes) -> None:
        async with transaction(engine, scope) as conn:
            await conn.execute(
                text(
                    "INSERT INTO session_cache VALUES (:sid, :t, :u, :v, :p, :e) "
                    "ON CONFLICT (tenant_id, user_id, session_id) DO UPDATE "
                    "SET version = excluded.version, payload = excluded.payload"
                ),
                {
                    "sid": sid,
                    "t": scope.tenant_id,
                    "u": scope.user_id,
                    "v": int(version),
                    "p": payload,
                    "e": datetime(2100, 1, 1, tzinfo=UTC),
                },
            )

    async def pg_expire() -> None:
        clock.advance(seconds=2)

    yield Harness(pg, pg_write_raw, pg_expire, session)


async def test_put_then_get_round_trips(harness: Harness) -> None:
    sid = await harness.session(ALICE)
    assert await harness.store.get(ALICE, sid) is None
    state = make_state(sid)
    assert await harness.store.put(state, ttl_s=60, read_at=AT)
    assert await harness.store.get(ALICE, sid) == state


async def test_only_a_newer_version_replaces_the_stored_one(harness: Harness) -> None:
    sid = await harness.session(ALICE)
    await harness.store.put(make_state(sid, version=5, text_="five"), ttl_s=60, read_at=AT)
    assert not await harness.store.put(
        make_state(sid, version=4, text_="four"), ttl_s=60, read_at=AT
    )
    assert not await harness.store.put(
        make_state(sid, version=5, text_="other"), ttl_s=60, read_at=AT
    )
    assert (await harness.store.get(ALICE, sid)).window[0].content == "five"  # type: ignore[union-attr]
    assert await harness.store.put(make_state(sid, version=6, text_="six"), ttl_s=60, read_at=AT)
    assert (await harness.store.get(ALICE, sid)).version == 6  # type: ignore[union-attr]


async def test_entries_expire_with_their_window(harness: Harness) -> None:
    sid = await harness.session(ALICE)
    await harness.store.put(make_state(sid), ttl_s=1, read_at=AT)
    await harness.expire()
    assert await harness.store.get(ALICE, sid) is None
    assert await harness.store.put(make_state(sid), ttl_s=60, read_at=AT), (
        "an expired entry is replaced"
    )


async def test_delete_removes_the_entry(harness: Harness) -> None:
    sid = await harness.session(ALICE)
    await harness.store.put(make_state(sid), ttl_s=60, read_at=AT)
    await harness.store.delete(ALICE, sid)
    assert await harness.store.get(ALICE, sid) is None


async def test_large_states_are_compressed_and_round_trip(harness: Harness) -> None:
    sid = await harness.session(ALICE)
    big = make_state(sid, text_="lorem ipsum " * 20_000)
    assert encode(big)[:1] == b"Z" and len(encode(big)) < COMPRESS_ABOVE_BYTES
    await harness.store.put(big, ttl_s=60, read_at=AT)
    assert await harness.store.get(ALICE, sid) == big


async def test_entries_are_scoped_to_their_user(harness: Harness) -> None:
    sid = await harness.session(ALICE)
    await harness.store.put(make_state(sid), ttl_s=60, read_at=AT)
    for stranger in (Scope("acme", "bob"), Scope("globex", "alice")):
        assert await harness.store.get(stranger, sid) is None


def corrupt_payloads(sid: uuid.UUID) -> dict[str, tuple[bytes, bytes]]:
    good = json.loads(make_state(sid).model_dump_json())
    wrong_types = good | {"turn_count": "many", "window": "not a list"}
    future = good | {"schema_version": 99}
    truncated = b"Z" + zstandard.ZstdCompressor().compress(json.dumps(good).encode())[:20]
    foreign = make_state(uuid.uuid4())
    return {
        "malformed-json": (b"1", b'J{"session_id": '),
        "truncated-zstd": (b"1", truncated),
        "wrong-types": (b"1", b"J" + json.dumps(wrong_types).encode()),
        "wrong-schema-version": (b"1", b"J" + json.dumps(future).encode()),
        "another-sessions-entry": (b"1", encode(foreign)),
        "version-mismatch": (b"7", encode(make_state(sid, version=1))),
        "unknown-tag": (b"1", b"Q" + json.dumps(good).encode()),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "malformed-json",
        "truncated-zstd",
        "wrong-types",
        "wrong-schema-version",
        "another-sessions-entry",
        "version-mismatch",
        "unknown-tag",
    ],
)
async def test_corrupt_entries_are_detected(harness: Harness, kind: str) -> None:
    sid = await harness.session(ALICE)
    version, payload = corrupt_payloads(sid)[kind]
    await harness.write_raw(ALICE, sid, version, payload)
    with pytest.raises(CorruptState):
        await harness.store.get(ALICE, sid)


async def test_redis_entry_of_the_wrong_type_is_corrupt_and_overwritable(redis_url: str) -> None:
    store = RedisSessionStore(redis_url)
    raw = aioredis.Redis.from_url(redis_url)
    sid = uuid.uuid4()
    await raw.set(store.key(ALICE, sid), b"a plain string")
    with pytest.raises(CorruptState):
        await store.get(ALICE, sid)
    state = make_state(sid)
    assert await store.put(state, ttl_s=60, read_at=AT)
    assert await store.get(ALICE, sid) == state
    assert 0 < await raw.pttl(store.key(ALICE, sid)) <= 60_000
    await raw.aclose()
    await store.close()


def test_redis_keys_carry_the_scope_as_a_hash_tag() -> None:
    sid = uuid.UUID(int=1)
    key = RedisSessionStore("redis://127.0.0.1:6379/9").key(ALICE, sid)
    assert key == f"ms:v1:{{acme:alice}}:session:{sid}"
