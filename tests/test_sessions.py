"""Hot session state in the scenarios people hit in production, on both stores (real Redis
and real Postgres): nothing is lost, nothing is duplicated, and the state after each one is
the state Postgres says it should be."""

import asyncio
import logging
import random
import subprocess
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.domain import Scope
from memory.core.errors import Conflict, InvalidInput, NotFound, OtherDeviceActive
from memory.core.requests import request_id
from memory.core.session_state import Flow, SessionState
from memory.core.settings import LifecycleSettings, SessionSettings
from memory.infra.rls import owner_transaction
from memory.stores.session_store import PostgresSessionStore, RedisSessionStore, SessionStore
from memory.stores.sessions import Sessions
from memory.stores.tenants import TenantStore
from memory.stores.transcripts import TranscriptStore
from tests.conftest import TravelClock

ALICE = Scope("acme", "alice")


def build(engine: AsyncEngine, clock: TravelClock, store: SessionStore) -> Sessions:
    tenants = TenantStore(engine, LifecycleSettings(), cache_s=0)
    return Sessions(
        engine,
        TranscriptStore(engine, clock, 32_000),
        store,
        tenants,
        clock,
        SessionSettings(window_messages=5),
    )


@pytest.fixture(params=["redis", "postgres"])
async def sessions(
    request: pytest.FixtureRequest, engine: AsyncEngine, clock: TravelClock, redis_url: str
) -> AsyncIterator[Sessions]:
    store: SessionStore
    if request.param == "redis":
        store = RedisSessionStore(redis_url)
    else:
        store = PostgresSessionStore(engine, clock)
    yield build(engine, clock, store)
    await store.close()


async def message_count(engine: AsyncEngine) -> int:
    async with owner_transaction(engine) as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM messages")) or 0)


async def rebuilt(sessions: Sessions, sid: uuid.UUID) -> SessionState:
    """What Postgres alone says the state is."""
    state, _read_at = await sessions._rebuild.assemble(ALICE, sid)
    return await sessions._present(state)


async def test_append_brings_the_state_along(sessions: Sessions) -> None:
    sid = uuid.uuid4()
    first = await sessions.append(ALICE, sid, "user", "book a table for two", device_id="phone")
    second = await sessions.append(ALICE, sid, "assistant", "for which night?", device_id="phone")
    state = second.state
    assert [m.content for m in state.window] == ["book a table for two", "for which night?"]
    assert (state.turn_count, state.device_id, state.status) == (1, "phone", "active")
    assert state.version == first.state.version + 1
    assert await sessions.state(ALICE, sid) == state == await rebuilt(sessions, sid)


async def test_window_keeps_the_last_messages(sessions: Sessions) -> None:
    sid = uuid.uuid4()
    for i in range(8):
        turn = await sessions.append(ALICE, sid, "user", f"m{i}")
    assert [m.content for m in turn.state.window] == ["m3", "m4", "m5", "m6", "m7"]
    assert turn.state.turn_count == 8


async def test_abrupt_disconnection_mid_turn_then_retry(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    sid = uuid.uuid4()
    await sessions.append(ALICE, sid, "user", "hello", idempotency_key="m-0")
    for delay in (0, 0.001, 0.005):  # the client vanishes at different points of the turn
        attempt = asyncio.ensure_future(
            sessions.append(ALICE, sid, "user", "are you there?", idempotency_key="m-1")
        )
        await asyncio.sleep(delay)
        attempt.cancel()
        await asyncio.gather(attempt, return_exceptions=True)
    retried = await sessions.append(ALICE, sid, "user", "are you there?", idempotency_key="m-1")
    assert retried.message.seq == 2
    assert await message_count(engine) == 2
    state = await sessions.state(ALICE, sid)
    assert [m.seq for m in state.window] == [1, 2]
    assert state == await rebuilt(sessions, sid)


async def test_rapid_reconnection_retrying_the_last_message(
    sessions: Sessions, engine: AsyncEngine, clock: TravelClock
) -> None:
    sid = uuid.uuid4()
    original = await sessions.append(
        ALICE, sid, "user", "pay the invoice", idempotency_key="k9", device_id="laptop"
    )
    for _ in range(3):  # three reconnects within ten seconds, each resending its last message
        clock.advance(seconds=3)
        again = await sessions.append(
            ALICE, sid, "user", "pay the invoice", idempotency_key="k9", device_id="laptop"
        )
        assert again.replayed and again.message == original.message
    assert await message_count(engine) == 1
    assert [m.content for m in (await sessions.state(ALICE, sid)).window] == ["pay the invoice"]


async def test_two_tabs_of_one_device_share_the_session(sessions: Sessions) -> None:
    sid = uuid.uuid4()
    await sessions.open(ALICE, "laptop", sid)
    turns = await asyncio.gather(
        *(
            sessions.append(ALICE, sid, "user", f"tab {i % 2} says {i}", device_id="laptop")
            for i in range(10)
        )
    )
    assert sorted(t.message.seq for t in turns) == list(range(1, 11))
    state = await sessions.state(ALICE, sid)
    assert [m.seq for m in state.window] == [6, 7, 8, 9, 10]
    assert state.turn_count == 10
    assert state == await rebuilt(sessions, sid)


async def test_two_devices_at_once_need_an_explicit_takeover(
    sessions: Sessions, clock: TravelClock
) -> None:
    on_phone = uuid.uuid4()
    await sessions.append(ALICE, on_phone, "user", "start on the phone", device_id="phone")
    with pytest.raises(OtherDeviceActive) as err:
        await sessions.append(ALICE, uuid.uuid4(), "user", "now the laptop", device_id="laptop")
    assert (err.value.device_id, err.value.session_id) == ("phone", on_phone)
    with pytest.raises(OtherDeviceActive):
        await sessions.open(ALICE, "laptop", on_phone)
    moved = await sessions.open(ALICE, "laptop", on_phone, takeover=True)
    assert moved.device_id == "laptop" and moved.window[0].content == "start on the phone"
    await sessions.append(ALICE, on_phone, "user", "continuing on the laptop", device_id="laptop")
    with pytest.raises(OtherDeviceActive) as back:
        await sessions.append(ALICE, on_phone, "user", "phone again", device_id="phone")
    assert back.value.device_id == "laptop"
    clock.advance(minutes=31)  # the laptop went quiet past the soft window
    turn = await sessions.append(ALICE, on_phone, "user", "phone again", device_id="phone")
    assert turn.state.device_id == "phone"


async def test_concurrent_devices_cannot_both_become_active(sessions: Sessions) -> None:
    results = await asyncio.gather(
        *(
            sessions.append(ALICE, uuid.uuid4(), "user", "hi", device_id=device)
            for device in ("phone", "laptop", "tablet")
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, OtherDeviceActive) for r in results) == 2


async def test_long_dormancy_shows_no_stale_task(sessions: Sessions, clock: TravelClock) -> None:
    sid = uuid.uuid4()
    turn = await sessions.append(ALICE, sid, "user", "renew my passport", device_id="phone")
    flow = Flow(
        name="passport_renewal",
        step="upload_photo",
        variables={"country": "PT"},
        status="awaiting_auth",
    )
    state = await sessions.update(ALICE, sid, turn.state.version, flow=flow)
    assert state.context.flow == flow
    clock.advance(days=60)
    later = await sessions.state(ALICE, sid)
    assert later.status == "hard_expired"
    assert later.context.flow is None, "yesterday's half-finished task must not look current"
    assert [m.content for m in later.window] == ["renew my passport"], "the transcript stays"
    assert (await sessions.sweep("acme"))["hard_expired"] == 1
    with pytest.raises(Conflict, match="ended"):
        await sessions.append(ALICE, sid, "user", "hello again", device_id="phone")
    fresh = await sessions.append(ALICE, uuid.uuid4(), "user", "hello again", device_id="phone")
    assert fresh.state.context.flow is None and fresh.state.status == "active"


async def test_lifecycle_follows_idle_time_and_tenant_overrides(
    sessions: Sessions, clock: TravelClock, engine: AsyncEngine
) -> None:
    sid = uuid.uuid4()
    turn = await sessions.append(ALICE, sid, "user", "hi")
    await sessions.update(ALICE, sid, turn.state.version, flow={"name": "quiz", "step": "q1"})
    clock.advance(minutes=35)
    soft = await sessions.state(ALICE, sid)
    assert soft.status == "soft_expired" and soft.context.flow is not None, "still restorable"
    assert (await sessions.sweep("acme")) == {"soft_expired": 1}
    clock.advance(minutes=90)  # 2 h 5 min idle
    assert (await sessions.state(ALICE, sid)).status == "hard_expired"
    assert (await sessions.sweep("acme")) == {"hard_expired": 1}
    other = Scope("quick-co", "carol")
    await TenantStore(engine, LifecycleSettings(), 0).set_lifecycle(
        "quick-co", {"soft_expiry_s": 60, "hard_expiry_s": 600}
    )
    short = uuid.uuid4()
    await sessions.append(other, short, "user", "hello")
    clock.advance(minutes=2)
    assert (await sessions.state(other, short)).status == "soft_expired"
    clock.advance(minutes=9)
    assert (await sessions.state(other, short)).status == "hard_expired"


async def test_tenant_overrides_are_checked(engine: AsyncEngine) -> None:
    tenants = TenantStore(engine, LifecycleSettings(), 0)
    with pytest.raises(InvalidInput, match="unknown"):
        await tenants.set_lifecycle("acme", {"forever_s": 1})
    with pytest.raises(InvalidInput, match="shorter"):
        await tenants.set_lifecycle("acme", {"soft_expiry_s": 9000})
    with pytest.raises(InvalidInput):
        await tenants.set_lifecycle("acme", {"soft_expiry_s": -5})


async def test_optimistic_concurrency_on_the_context(sessions: Sessions) -> None:
    sid = uuid.uuid4()
    v = (await sessions.append(ALICE, sid, "user", "plan my trip")).state.version
    updated = await sessions.update(
        ALICE,
        sid,
        v,
        topic="trip to Kyoto",
        entities=["Kyoto"],
        open_questions=["which month?"],
        add_totals={"tokens": 120, "tool_calls": 1},
    )
    assert updated.version == v + 1 and updated.context.topic == "trip to Kyoto"
    with pytest.raises(Conflict, match=f"version {v + 1}"):
        await sessions.update(ALICE, sid, v, topic="stale writer")
    again = await sessions.update(ALICE, sid, updated.version, add_totals={"tokens": 30})
    assert again.context.totals.tokens == 150 and again.context.topic == "trip to Kyoto"
    results = await asyncio.gather(
        *(sessions.update(ALICE, sid, again.version, topic=f"t{i}") for i in range(5)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Conflict) for r in results) == 4
    with pytest.raises(InvalidInput):
        await sessions.update(ALICE, sid, again.version + 1, flow={"name": "", "step": "x"})
    assert await sessions.state(ALICE, sid) == await rebuilt(sessions, sid)


async def test_task_complete_clears_the_flow(sessions: Sessions) -> None:
    sid = uuid.uuid4()
    v = (await sessions.append(ALICE, sid, "user", "reset my password")).state.version
    state = await sessions.update(ALICE, sid, v, flow={"name": "reset", "step": "verify"})
    done = await sessions.complete_task(ALICE, sid, state.version)
    assert done.context.flow is None
    assert (await sessions.state(ALICE, sid)).context.flow is None


@pytest.mark.parametrize(
    "payload",
    [
        b'J{"broken',
        b"Z\x28\xb5\x2f\xfd\x00",
        b'J{"schema_version": 1, "turn_count": "x"}',
        b'J{"schema_version": 42}',
    ],
    ids=["malformed-json", "truncated-zstd", "wrong-types", "wrong-schema-version"],
)
async def test_corrupt_cache_entries_are_rebuilt_from_postgres(
    sessions: Sessions,
    payload: bytes,
    engine: AsyncEngine,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sid = uuid.uuid4()
    turn = await sessions.append(ALICE, sid, "user", "my order number is 4471")
    await overwrite_cache(sessions, engine, redis_url, sid, turn.state.version, payload)
    with caplog.at_level(logging.WARNING, logger="memory.stores.sessions"):
        state = await sessions.state(ALICE, sid)
    assert state == await rebuilt(sessions, sid)
    assert [m.content for m in state.window] == ["my order number is 4471"]
    assert sessions.recoveries["corrupt"] == 1
    assert any(getattr(r, "outcome", None) == "corrupt" for r in caplog.records)
    assert (await sessions.append(ALICE, sid, "user", "and?")).state.turn_count == 2


async def overwrite_cache(
    sessions: Sessions,
    engine: AsyncEngine,
    redis_url: str,
    sid: uuid.UUID,
    version: int,
    payload: bytes,
) -> None:
    store = sessions._cache.store
    if isinstance(store, RedisSessionStore):
        client = RedisSessionStore(redis_url)._redis
        await client.hset(store.key(ALICE, sid), mapping={"v": str(version), "d": payload})
        await client.aclose()
        return
    async with owner_transaction(engine) as conn:
        await conn.execute(
            text("UPDATE session_cache SET payload = :p WHERE session_id = :s"),
            {"p": payload, "s": sid},
        )


async def test_a_stale_cache_entry_is_not_trusted(sessions: Sessions) -> None:
    sid = uuid.uuid4()
    first = await sessions.append(ALICE, sid, "user", "one")
    await sessions.append(ALICE, sid, "user", "two")
    await sessions._cache.store.delete(ALICE, sid)
    await sessions._cache.store.put(
        first.state, ttl_s=600, read_at=sessions._clock()
    )  # as if the second save never arrived
    state = await sessions.state(ALICE, sid)
    assert [m.content for m in state.window] == ["one", "two"]
    assert sessions.recoveries["stale"] == 1


async def test_redis_down_during_a_save_loses_nothing(
    engine: AsyncEngine,
    clock: TravelClock,
    throwaway_redis: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, server = throwaway_redis
    store = RedisSessionStore(url, timeout_s=0.2)
    sessions = build(engine, clock, store)
    sid = uuid.uuid4()
    await sessions.append(ALICE, sid, "user", "before the outage")
    server.kill()
    server.wait()
    during = await sessions.append(ALICE, sid, "user", "during the outage")
    assert during.message.seq == 2
    assert [m.content for m in during.state.window] == ["before the outage", "during the outage"]
    assert sessions.recoveries["unavailable"] >= 1
    state = await sessions.state(ALICE, sid)
    assert state == await rebuilt(sessions, sid)
    assert await message_count(engine) == 2
    await store.close()


async def test_fifty_concurrent_appends_with_random_retries(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    rng = random.Random(5)
    sids = [uuid.uuid4() for _ in range(5)]
    plan = [(sids[i % 5], f"key-{i}", f"message {i}") for i in range(50)]
    attempts = [p for p in plan for _ in range(rng.choice([1, 1, 2, 3]))]
    rng.shuffle(attempts)
    turns = await asyncio.gather(
        *(
            sessions.append(ALICE, sid, "user", body, idempotency_key=key)
            for sid, key, body in attempts
        )
    )
    assert await message_count(engine) == 50
    assert len({t.message.id for t in turns}) == 50
    for sid in sids:
        transcript = await TranscriptStore(engine, TravelClock(), 1000).window(ALICE, sid, limit=50)
        assert [m.seq for m in transcript] == list(range(1, 11))
        state = await sessions.state(ALICE, sid)
        assert state == await rebuilt(sessions, sid)
        assert [m.seq for m in state.window] == [6, 7, 8, 9, 10]


async def test_every_state_read_and_write_is_logged(
    sessions: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    sid = uuid.uuid4()
    token = request_id.set("req-123")
    try:
        with caplog.at_level(logging.INFO, logger="memory.stores.sessions"):
            await sessions.append(ALICE, sid, "user", "hello")
            await sessions.state(ALICE, sid)
    finally:
        request_id.reset(token)
    events = [r for r in caplog.records if getattr(r, "layer", None) == "session"]
    ops = [r.op for r in events]  # type: ignore[attr-defined]
    assert "put" in ops and "get" in ops
    for record in events:
        assert record.tenant == "acme" and record.user == "alice"  # type: ignore[attr-defined]
        assert record.session == str(sid) and record.request_id == "req-123"  # type: ignore[attr-defined]
        assert record.key  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "stranger",
    [Scope("acme", "bob"), Scope("globex", "alice")],
    ids=["same-tenant", "other-tenant"],
)
async def test_session_state_is_isolated(sessions: Sessions, stranger: Scope) -> None:
    sid = uuid.uuid4()
    turn = await sessions.append(ALICE, sid, "user", "private", device_id="phone")
    with pytest.raises(NotFound):
        await sessions.state(stranger, sid)
    with pytest.raises(NotFound):
        await sessions.update(stranger, sid, turn.state.version, topic="x")
    assert await sessions.latest(stranger) is None
    assert await sessions._cache.store.get(stranger, sid) is None
    # The same id is the stranger's own session: it neither sees nor touches alice's.
    theirs = await sessions.append(stranger, sid, "user", "sneak", device_id="laptop")
    assert [m.content for m in theirs.state.window] == ["sneak"]
    opened = await sessions.open(stranger, "laptop", sid)
    assert [m.content for m in opened.window] == ["sneak"]
    assert [m.content for m in (await sessions.state(ALICE, sid)).window] == ["private"]
    # Another user's devices are their own: no cross-user device conflicts.
    await sessions.append(stranger, uuid.uuid4(), "user", "mine", device_id="laptop")
    assert (await sessions.state(ALICE, sid)).window[0].content == "private"
