"""The raw transcript tier on real Postgres: durable appends, gapless seq under concurrency,
idempotent retries, windows, archive and delete, and bad input that writes nothing."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.domain import Role, Scope
from memory.core.errors import IdempotencyMismatch, InvalidInput, NotFound
from memory.infra.rls import owner_transaction
from memory.stores.transcripts import TranscriptStore
from tests.conftest import TravelClock

ALICE = Scope("acme", "alice")


@pytest.fixture
def store(engine: AsyncEngine, clock: TravelClock) -> TranscriptStore:
    return TranscriptStore(engine, clock, max_content_chars=32_000)


async def count(engine: AsyncEngine, table: str) -> int:
    async with owner_transaction(engine) as conn:
        return int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


async def test_append_returns_the_committed_message(
    store: TranscriptStore, clock: TravelClock
) -> None:
    session = uuid.uuid4()
    message = await store.append(ALICE, session, "user", "I moved to Lisbon")
    assert (message.seq, message.role, message.content) == (1, Role.USER, "I moved to Lisbon")
    assert message.created_at == clock.now and message.scope == ALICE
    assert await store.get_many(ALICE, [message.id]) == [message]


async def test_twenty_concurrent_appends_get_seq_1_to_20(store: TranscriptStore) -> None:
    session = uuid.uuid4()
    messages = await asyncio.gather(
        *(store.append(ALICE, session, "user", f"message {i}") for i in range(20))
    )
    assert sorted(m.seq for m in messages) == list(range(1, 21))
    window = await store.window(ALICE, session, limit=50)
    assert [m.seq for m in window] == list(range(1, 21))


async def test_twenty_concurrent_retries_of_one_key_store_one_row(
    store: TranscriptStore, engine: AsyncEngine
) -> None:
    session = uuid.uuid4()
    messages = await asyncio.gather(
        *(store.append(ALICE, session, "user", "hi", idempotency_key="k-1") for _ in range(20))
    )
    assert len({m.id for m in messages}) == 1
    assert {m.seq for m in messages} == {1}
    assert await count(engine, "messages") == 1
    follow_up = await store.append(ALICE, session, "assistant", "hello")
    assert follow_up.seq == 2, "a retry must not burn a seq"


async def test_a_key_reused_for_another_message_is_a_conflict(store: TranscriptStore) -> None:
    session = uuid.uuid4()
    await store.append(ALICE, session, "user", "first", idempotency_key="k")
    with pytest.raises(IdempotencyMismatch):
        await store.append(ALICE, session, "user", "second", idempotency_key="k")


async def test_window_returns_the_latest_messages_oldest_first(store: TranscriptStore) -> None:
    session = uuid.uuid4()
    for i in range(1, 8):
        await store.append(ALICE, session, "user", f"m{i}")
    assert [m.content for m in await store.window(ALICE, session, limit=3)] == ["m5", "m6", "m7"]
    earlier = await store.window(ALICE, session, limit=3, before_seq=5)
    assert [m.seq for m in earlier] == [2, 3, 4]


async def test_window_of_an_unknown_session_is_not_found(store: TranscriptStore) -> None:
    with pytest.raises(NotFound):
        await store.window(ALICE, uuid.uuid4())


async def test_archive_marks_once_and_delete_removes(
    store: TranscriptStore, clock: TravelClock
) -> None:
    session = uuid.uuid4()
    first = await store.append(ALICE, session, "user", "one")
    await store.append(ALICE, session, "assistant", "two")
    clock.advance(hours=3)
    assert await store.archive(ALICE, session) == 2
    assert await store.archive(ALICE, session) == 0
    assert all(m.archived_at == clock.now for m in await store.window(ALICE, session))
    assert await store.delete(ALICE, [first.id]) == 1
    assert [m.content for m in await store.window(ALICE, session)] == ["two"]


async def test_explicit_time_must_be_aware_and_is_kept(store: TranscriptStore) -> None:
    at = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    message = await store.append(ALICE, uuid.uuid4(), "user", "from the archive", at=at)
    assert message.created_at == at
    with pytest.raises(InvalidInput, match="timezone-aware"):
        await store.append(ALICE, uuid.uuid4(), "user", "x", at=datetime(2023, 5, 8))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"content": ""}, "content"),
        ({"content": "   \n"}, "content"),
        ({"content": "x" * 32_001}, "content"),
        ({"role": "wizard"}, "role"),
        ({"session_id": "not-a-uuid"}, "session_id"),
        ({"idempotency_key": " "}, "idempotency_key"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_written(
    store: TranscriptStore, engine: AsyncEngine, change: dict[str, str], field: str
) -> None:
    args = {"session_id": str(uuid.uuid4()), "role": "user", "content": "fine"} | change
    key = change.get("idempotency_key")
    with pytest.raises(InvalidInput) as err:
        await store.append(
            ALICE, args["session_id"], args["role"], args["content"], idempotency_key=key
        )
    assert err.value.field == field
    assert await count(engine, "messages") == 0
    assert await count(engine, "sessions") == 0


async def test_one_session_id_is_a_separate_session_for_each_user(
    store: TranscriptStore,
) -> None:
    """Session ids belong to their user: nobody can squat an id another user (of this
    tenant or another) will use, nor learn that it exists."""
    session = uuid.uuid4()
    await store.append(ALICE, session, "user", "mine")
    for other in (Scope("acme", "bob"), Scope("globex", "alice")):
        theirs = await store.append(other, session, "user", "theirs")
        assert theirs.seq == 1, "a session of their own, not a continuation of alice's"
        assert [m.content for m in await store.window(other, session)] == ["theirs"]
    assert [m.content for m in await store.window(ALICE, session)] == ["mine"]
