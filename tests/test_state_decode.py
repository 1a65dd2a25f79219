"""Decoding a cached session state never inflates past `MAX_STATE_BYTES`: a zstd bomb, with
its size declared or not, is a `CorruptState` (which the session store's callers rebuild
from Postgres) without the memory it asks for, while large real states round-trip."""

import json
import random
import string
import time
import tracemalloc
import uuid
from datetime import UTC, datetime

import pytest
import zstandard

from memory.core.errors import CorruptState
from memory.core.session_state import (
    MAX_STATE_BYTES,
    Context,
    SessionState,
    WindowMessage,
    decode,
    encode,
)

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
BOMB_BYTES = 400 * 1024 * 1024
CHUNK = bytes(1024 * 1024)


def zeros_frame(size: int, declare_size: bool) -> bytes:
    """A zstd frame of `size` zero bytes, compressed a chunk at a time so that building it
    does not allocate `size`; it declares its size in the header when `declare_size`."""
    compressing = zstandard.ZstdCompressor(level=3).compressobj(size=size if declare_size else -1)
    parts = [compressing.compress(CHUNK) for _ in range(size // len(CHUNK))]
    parts.append(compressing.flush())
    return b"".join(parts)


def large_state(messages: int, chars: int) -> SessionState:
    rng = random.Random(7)  # text that compresses as prose does, not to nothing
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(5000)]
    window = tuple(
        WindowMessage(
            id=uuid.uuid4(),
            seq=n,
            role="user" if n % 2 else "assistant",
            content=" ".join(rng.choices(words, k=chars // 6))[:chars] + " — ünïcödé ✓",
            created_at=AT,
        )
        for n in range(messages)
    )
    return SessionState(
        session_id=uuid.uuid4(),
        tenant_id="acme",
        user_id="alice",
        device_id=None,
        status="active",
        window=window,
        context=Context(topic="a long conversation"),
        turn_count=messages,
        started_at=AT,
        last_active_at=AT,
        version=3,
    )


@pytest.mark.parametrize("declare_size", [True, False], ids=["declared", "undeclared"])
def test_a_zstd_bomb_is_corrupt_without_being_inflated(declare_size: bool) -> None:
    bomb = b"Z" + zeros_frame(BOMB_BYTES, declare_size)
    assert len(bomb) < 64 * 1024  # a small cache entry
    assert zstandard.frame_content_size(bomb[1:]) == (BOMB_BYTES if declare_size else -1)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(CorruptState, match="inflates"):
            decode(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 10
    assert peak < MAX_STATE_BYTES + 8 * 1024 * 1024  # at most the bound and a chunk


def test_a_frame_that_declares_less_than_it_holds_is_corrupt() -> None:
    raw = json.dumps({"schema_version": 1, "pad": "x" * 500_000}).encode()
    large = zstandard.ZstdCompressor().compress(raw)
    small = zstandard.ZstdCompressor().compress(b"y" * 1000)
    # The small frame's header (1000 bytes, declared) on the large frame's blocks.
    forged = small[: zstandard.frame_header_size(small)]
    forged += large[zstandard.frame_header_size(large) :]
    assert zstandard.frame_content_size(forged) == 1000
    with pytest.raises(CorruptState):
        decode(b"Z" + forged)


def test_deeply_nested_json_is_corrupt_rather_than_a_crash() -> None:
    with pytest.raises(CorruptState, match="undecodable"):
        decode(b"J" + b"[" * 200_000)


def test_a_large_state_round_trips_compressed() -> None:
    state = large_state(messages=300, chars=20_000)
    payload = encode(state)
    assert payload[:1] == b"Z"
    assert zstandard.frame_content_size(payload[1:]) > 5 * 1024 * 1024
    assert decode(payload) == state


def test_a_state_in_a_frame_without_its_size_round_trips() -> None:
    state = large_state(messages=40, chars=20_000)
    raw = state.model_dump_json().encode()
    compressing = zstandard.ZstdCompressor(level=3).compressobj()  # size unknown
    frame = compressing.compress(raw) + compressing.flush()
    assert zstandard.frame_content_size(frame) == -1
    assert decode(b"Z" + frame) == state
