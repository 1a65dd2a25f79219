"""The hot state of one session — recent window, active flow, topic, entities, open
questions, counters — and its wire form: JSON, zstd-compressed above 100 KB, checked on the
way back in so that a corrupt cache entry is detected, never trusted."""

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import zstandard
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memory.core.crypto import DISABLED, Cipher, KeyMissing, session_aad
from memory.core.domain import Role, Scope, SessionStatus
from memory.core.errors import CorruptState, InvalidInput
from memory.core.records import Message

SCHEMA_VERSION = 1
COMPRESS_ABOVE_BYTES = 100 * 1024
# No state inflates past this, while a few KB of zstd can declare or hold gigabytes. The
# largest window a tenant may set (500) of messages at the default `max_content_chars`
# (32,000), all 4-byte UTF-8, is 64,000,000 bytes; the defaults make ~1 MB. A state over
# it is never trusted from the cache: it is rebuilt from Postgres each time it is read.
MAX_STATE_BYTES = 64 * 1024 * 1024
_INFLATE_CHUNK_BYTES = 1024 * 1024
_PLAIN, _ZSTD, _SEALED = b"J", b"Z", b"E"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WindowMessage(_Frozen):
    id: uuid.UUID
    seq: int
    role: Role
    content: str
    created_at: datetime
    device_id: str | None = None


class Flow(_Frozen):
    """A task or guided flow in progress, e.g. a booking waiting for authentication."""

    name: str = Field(min_length=1, max_length=200)
    step: str = Field(min_length=1, max_length=200)
    variables: dict[str, Any] = Field(default_factory=dict)
    status: str = Field(default="in_progress", min_length=1, max_length=100)


class RunTotals(_Frozen):
    tokens: int = Field(default=0, ge=0)
    tool_calls: int = Field(default=0, ge=0)
    retries: int = Field(default=0, ge=0)
    wall_ms: int = Field(default=0, ge=0)

    def plus(self, other: "RunTotals") -> "RunTotals":
        return RunTotals(
            tokens=self.tokens + other.tokens,
            tool_calls=self.tool_calls + other.tool_calls,
            retries=self.retries + other.retries,
            wall_ms=self.wall_ms + other.wall_ms,
        )


class Context(_Frozen):
    """The part of the state that is not derivable from the transcript; it is also kept
    durably on the session row, so losing the cache never loses it."""

    flow: Flow | None = None
    topic: str | None = Field(default=None, max_length=500)
    entities: tuple[str, ...] = ()
    open_questions: tuple[str, ...] = ()
    totals: RunTotals = RunTotals()


class SessionState(_Frozen):
    schema_version: Literal[1] = 1
    session_id: uuid.UUID
    tenant_id: str
    user_id: str
    device_id: str | None
    status: SessionStatus
    window: tuple[WindowMessage, ...]
    context: Context
    turn_count: int = Field(ge=0)
    started_at: datetime
    last_active_at: datetime
    version: int = Field(ge=0)
    # Why the session ended when it was not idleness: "corrupt_state" (its stored state
    # could not be read; the user continues in a new session).
    ended_reason: str | None = None
    # The user's conversation thread it belongs to, and the caller's metadata.
    thread: str = "main"
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def scope(self) -> Scope:
        return Scope(self.tenant_id, self.user_id)


def encode(state: SessionState, cipher: Cipher = DISABLED) -> bytes:
    """The cache entry: JSON, zstd above 100 KB, sealed (tag, key id, AES-GCM) when
    encryption is on."""
    raw = state.model_dump_json().encode()
    if len(raw) > COMPRESS_ABOVE_BYTES:
        payload = _ZSTD + zstandard.ZstdCompressor(level=3).compress(raw)
    else:
        payload = _PLAIN + raw
    if not cipher.enabled:
        return payload
    associated = session_aad(state.tenant_id, state.user_id, state.session_id)
    key_id, sealed = cipher.seal_bytes(payload, associated)
    kid = key_id.encode()
    return _SEALED + bytes([len(kid)]) + kid + sealed


def _unsealed(payload: bytes, cipher: Cipher, scope: Scope, session_id: uuid.UUID) -> bytes:
    if payload[:1] != _SEALED:
        return payload
    size = payload[1] if len(payload) > 1 else 0
    key_id = payload[2 : 2 + size].decode(errors="replace")
    try:
        associated = session_aad(scope.tenant_id, scope.user_id, session_id)
        return cipher.open_bytes(key_id, payload[2 + size :], associated)
    except KeyMissing as exc:  # a cache entry is disposable: rebuild it from Postgres
        raise CorruptState(f"session entry sealed with unknown key {key_id!r}") from exc


def _inflated(body: bytes) -> bytes:
    """The content of the zstd frame in `body`, never more than `MAX_STATE_BYTES` of it: a
    frame that declares more is refused before anything is allocated, one that declares its
    size is decompressed into exactly that much, and one that does not is read in chunks
    until it passes the bound. The window is bounded too, as no frame within the bound
    needs a larger one."""
    declared = zstandard.frame_content_size(body)
    if declared > MAX_STATE_BYTES:
        raise CorruptState(f"session entry inflates to {declared} bytes, over {MAX_STATE_BYTES}")
    decompressor = zstandard.ZstdDecompressor(max_window_size=MAX_STATE_BYTES)
    if declared >= 0:
        return decompressor.decompress(body, allow_extra_data=False)
    chunks: list[bytes] = []
    size = 0
    with decompressor.stream_reader(body) as reader:
        while chunk := reader.read(_INFLATE_CHUNK_BYTES):
            size += len(chunk)
            if size > MAX_STATE_BYTES:
                raise CorruptState(f"session entry inflates past {MAX_STATE_BYTES} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


def decode(
    payload: bytes,
    cipher: Cipher = DISABLED,
    scope: Scope | None = None,
    session_id: uuid.UUID | None = None,
) -> SessionState:
    """Parse a cached entry (a sealed one needs the scope and session it belongs to);
    anything malformed raises `CorruptState` saying what."""
    if payload[:1] == _SEALED:
        if scope is None or session_id is None:
            raise CorruptState("a sealed session entry needs its scope to open")
        payload = _unsealed(payload, cipher, scope, session_id)
    kind, body = payload[:1], payload[1:]
    try:
        if kind == _ZSTD:
            body = _inflated(body)
        elif kind != _PLAIN:
            raise CorruptState(f"unknown encoding tag {kind!r}")
        data = json.loads(body)
    except (zstandard.ZstdError, ValueError, RecursionError) as exc:  # nesting too deep
        raise CorruptState(f"undecodable session entry: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        found = data.get("schema_version") if isinstance(data, dict) else None
        raise CorruptState(f"session entry has schema version {found!r}, not {SCHEMA_VERSION}")
    try:
        return SessionState.model_validate(data)
    except ValidationError as exc:
        raise CorruptState(f"session entry has wrong types: {exc.error_count()} errors") from exc


class _Unset:
    """Marks a context field the caller leaves as it is."""


UNSET: Any = _Unset()


def with_message(
    state: SessionState, message: Message, version: int, window_size: int
) -> SessionState:
    """The state one append later: the message joins the window in `seq` order."""
    entry = WindowMessage(
        id=message.id,
        seq=message.seq,
        role=message.role,
        content=message.content,
        created_at=message.created_at,
        device_id=message.device_id,
    )
    window = sorted((*(m for m in state.window if m.id != message.id), entry), key=_seq)
    return state.model_copy(
        update={
            "window": tuple(window[-window_size:]),
            "turn_count": state.turn_count + (message.role is Role.USER),
            "last_active_at": max(state.last_active_at, message.created_at),
            "device_id": message.device_id or state.device_id,
            "status": SessionStatus.ACTIVE,
            "version": version,
        }
    )


def _seq(message: WindowMessage) -> int:
    return message.seq


def changed(
    context: Context, changes: dict[str, Any], add_totals: RunTotals | Mapping[str, int] | None
) -> Context:
    """The context with `changes` (fields left `UNSET` stay) and `add_totals` added."""
    update = {name: value for name, value in changes.items() if value is not UNSET}
    if "entities" in update:
        update["entities"] = tuple(update["entities"])
    if "open_questions" in update:
        update["open_questions"] = tuple(update["open_questions"])
    try:
        if add_totals is not None:
            update["totals"] = context.totals.plus(RunTotals.model_validate(add_totals))
        return Context.model_validate(context.model_dump() | update)
    except ValidationError as exc:
        field = ".".join(str(part) for part in exc.errors()[0]["loc"]) or "context"
        raise InvalidInput(field, exc.errors()[0]["msg"]) from exc
