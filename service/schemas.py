"""Request and response bodies of the REST API. Responses are built from the library's
frozen records; requests are validated here and again by the library."""

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from memory.core.domain import FactKind, SessionStatus, Tier
from memory.core.records import Message, Provenance, ScoreParts, SectionKind
from memory.core.session_state import Flow, WindowMessage
from memory.core.settings import LifecycleSettings, ResumptionSettings, TenantReflection
from memory.stores.sessions import Turn
from memory.stores.transcripts import NewTurn
from resume.policy import Mode

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _within_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)  # 0001-01-01T00:00+14:00 has no UTC value
    except OverflowError:
        raise ValueError("is outside the range of dates") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"must be between {EARLIEST.year} and {LATEST.year}")
    return value


# Every instant a request gives: timezone-aware (a naive one is ambiguous) and between
# 1900 and 9000 in UTC; the library checks its own bounds (e.g. messages not in the future).
Instant = Annotated[AwareDatetime, AfterValidator(_within_range)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewTenant(_In):
    id: str = Field(min_length=1, max_length=128)
    key_name: str = Field(default="default", max_length=200)
    expires_at: Instant | None = None


class TenantKey(BaseModel):
    """A new key: the only answer that ever shows it."""

    tenant_id: str
    key_id: uuid.UUID
    api_key: str
    name: str = "default"
    expires_at: datetime | None = None


class NewKeyIn(_In):
    name: str = Field(default="default", max_length=200)
    expires_at: Instant | None = None  # never, when left out


class KeyChangeIn(_In):
    """Rename a key, or set when it expires; `never_expires` clears an expiry."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    expires_at: Instant | None = None
    never_expires: bool = False


class TenantSettingsIn(_In):
    lifecycle: dict[str, int] | None = None
    resumption: dict[str, int] | None = None
    # {"extraction": "rules|llm|auto", "model": …, "redact": [...], "redact_patterns": {…}}
    reflection: dict[str, Any] | None = None


# The caller's free-form labels: a JSON object, bounded by the library
# (`memory.core.metadata`: 4 KiB as JSON, 5 levels deep).
Metadata = dict[str, Any]
Thread = Annotated[str, Field(min_length=1, max_length=128)]


class NewMessage(_In):
    role: Literal["user", "assistant", "system", "tool"]
    content: str
    device_id: str | None = Field(default=None, max_length=128)
    takeover: bool = False
    at: Instant | None = None
    metadata: Metadata | None = None  # the message's
    # Used when this message opens the session: its thread ("main" if left out) and
    # metadata. A thread other than an existing session's is a 409.
    thread: Thread | None = None
    session_metadata: Metadata | None = None


class BatchMessage(_In):
    role: Literal["user", "assistant", "system", "tool"]
    content: str
    idempotency_key: str | None = Field(default=None, max_length=200)
    at: Instant | None = None
    metadata: Metadata | None = None


class NewMessages(_In):
    """Several messages of one session, appended all or none, in order."""

    messages: list[BatchMessage] = Field(min_length=1, max_length=500)
    device_id: str | None = Field(default=None, max_length=128)
    takeover: bool = False
    thread: Thread | None = None
    session_metadata: Metadata | None = None

    def turns(self) -> list[NewTurn]:
        """The messages as the library appends them."""
        return [
            NewTurn(m.role, m.content, m.idempotency_key, m.at, m.metadata) for m in self.messages
        ]


class MessageOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    seq: int
    role: str
    content: str
    device_id: str | None
    created_at: datetime
    metadata: Metadata = Field(default_factory=dict)

    @classmethod
    def of(cls, message: Message) -> "MessageOut":
        return cls(
            id=message.id,
            session_id=message.session_id,
            seq=message.seq,
            role=message.role.value,
            content=message.content,
            device_id=message.device_id,
            created_at=message.created_at,
            metadata=dict(message.metadata),
        )


class BatchAppended(BaseModel):
    """Every message of the batch, in order (`replayed`: already stored under its key), and
    the session after the whole batch."""

    messages: list[MessageOut]
    replayed: list[bool]
    session_version: int
    session_status: str
    ended_reason: str | None = None

    @classmethod
    def of(cls, turns: list[Turn]) -> "BatchAppended":
        state = turns[-1].state
        return cls(
            messages=[MessageOut.of(t.message) for t in turns],
            replayed=[t.replayed for t in turns],
            session_version=state.version,
            session_status=state.status,
            ended_reason=state.ended_reason,
        )


class Appended(BaseModel):
    message: MessageOut
    session_version: int
    replayed: bool
    # The session's status after the append, and why it ended if that was not idleness
    # ("corrupt_state": its stored state was unreadable; the message is kept in it and the
    # user continues in a new session).
    session_status: str
    ended_reason: str | None = None


class StateChange(_In):
    flow: dict[str, Any] | None = None
    topic: str | None = None
    entities: list[str] | None = None
    open_questions: list[str] | None = None
    add_totals: dict[str, int] | None = None


class DeviceIn(_In):
    device_id: str = Field(min_length=1, max_length=128)
    takeover: bool = False
    thread: Thread | None = None  # of the session, if this opens it


class MetadataIn(_In):
    """Replaces the metadata as a whole; `{}` clears it."""

    metadata: Metadata


class ResumeIn(_In):
    message: str | None = None
    device_id: str | None = Field(default=None, max_length=128)
    now: Instant | None = None
    budget_tokens: int | None = Field(default=None, ge=50, le=200_000)
    thread: Thread | None = None  # continue this thread; left out: the latest session's


class MemoryIn(_In):
    """A memory the user asked to be remembered, added by hand."""

    kind: FactKind
    text: str = Field(min_length=1)
    importance: float = Field(default=0.8, ge=0, le=1)
    pinned: bool = False


class CorrectionIn(_In):
    """What a fact should say instead; its kind and importance stay unless given."""

    text: str = Field(min_length=1)
    kind: FactKind | None = None
    importance: float | None = Field(default=None, ge=0, le=1)


class RecallIn(_In):
    query: str
    k: int = 10
    tiers: list[str] | None = None
    kinds: list[str] | None = None
    since: Instant | None = None
    until: Instant | None = None
    as_of: Instant | None = None
    thread: Thread | None = None
    metadata: Metadata | None = None  # contained in the source messages' metadata
    session_metadata: Metadata | None = None  # contained in the source sessions'


# --- answers ------------------------------------------------------------------------------
# Every route answers with one of these models (or a list of one), so `/openapi.json`, the
# Python clients and the MCP tools describe the same shapes. They read the library's frozen
# records by attribute.


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class KeyOut(_Out):
    """What is known of a key after it was shown: never the key itself."""

    id: uuid.UUID
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TenantSettingsOut(_Out):
    lifecycle: LifecycleSettings
    resumption: ResumptionSettings
    reflection: TenantReflection


class HitOut(_Out):
    """A recall hit: the tier it came from, its score and how it was earned, and the
    messages, facts and session it stands on."""

    tier: Tier
    id: uuid.UUID
    text: str
    at: datetime
    score: float
    kind: FactKind | None
    parts: ScoreParts  # the library's own frozen values, as they are
    provenance: Provenance


class FactOut(_Out):
    id: uuid.UUID
    kind: FactKind
    text: str
    importance: float
    confidence: float
    attribute: str | None
    valid_from: datetime
    valid_to: datetime | None
    superseded_by: uuid.UUID | None
    source_message_ids: list[uuid.UUID]
    pinned: bool = False  # always in the profile


class KnowledgeOut(_Out):
    id: uuid.UUID
    lineage_id: uuid.UUID
    version: int
    text: str
    importance: float
    created_at: datetime
    retired_at: datetime | None
    fact_ids: list[uuid.UUID]


class SummaryOut(_Out):
    id: uuid.UUID
    session_id: uuid.UUID
    text: str
    topics: list[str]
    decisions: list[str]
    open_loops: list[str]
    started_at: datetime
    ended_at: datetime


class SectionOut(_Out):
    kind: SectionKind
    title: str
    body: str
    items: list[str]
    session_id: uuid.UUID | None
    on: date | None


class JournalOut(_Out):
    version: int
    content: str
    created_at: datetime
    session_id: uuid.UUID | None
    sections: list[SectionOut]


class UserOut(_Out):
    id: str
    created_at: datetime
    sessions: int
    last_active_at: datetime | None
    metadata: Metadata = Field(default_factory=dict)


class ThreadOut(_Out):
    thread: str
    sessions: int
    started_at: datetime
    last_active_at: datetime


class SessionOverviewOut(_Out):
    id: uuid.UUID
    device_id: str | None
    status: SessionStatus
    started_at: datetime
    last_active_at: datetime
    turns: int
    retained: int
    summary: str | None
    topics: list[str]
    thread: str = "main"
    metadata: Metadata = Field(default_factory=dict)


class RunOut(_Out):
    id: uuid.UUID
    kind: str
    session_id: uuid.UUID | None
    status: str
    model: str | None
    prompt_version: str | None
    input_tokens: int
    output_tokens: int
    llm_calls: int
    retries: int
    wall_ms: int
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    actor: str | None = None  # who made a change by hand ("key:<id>", "cli", "mcp", …)
    subject_id: uuid.UUID | None = None  # the fact or insight changed by hand


class ItemOut(_Out):
    text: str
    cite: str


class BlockOut(_Out):
    title: str
    items: list[ItemOut]
    share: float


class OtherDeviceOut(_Out):
    device_id: str
    session_id: uuid.UUID


class ChatMessageOut(_Out):
    role: str
    content: str


class ResumeOut(_Out):
    """How the conversation resumes: the mode and why, the session to continue (or the new
    one), the greeting, what was restored, the context blocks and the chat messages that
    carry them, within `budget_tokens`."""

    mode: Mode
    reason: str
    gap_s: float | None
    session_id: uuid.UUID
    continues_session: bool
    greeting: str | None
    restored: list[WindowMessage]
    active_task: Flow | None
    blocks: list[BlockOut]
    other_device: OtherDeviceOut | None
    messages: list[ChatMessageOut]
    tokens: int
    budget_tokens: int
    thread: str  # the thread to write `session_id` in


class ExportLine(BaseModel):
    """One line of an export: a row of the tier it names, with that row's columns; the
    last line is `{"tier": "end", "rows": {tier: count}}`, or `{"tier": "error", "code",
    "detail"}` when the export broke off."""

    model_config = ConfigDict(extra="allow")

    tier: Literal[
        "user", "session", "message", "fact", "knowledge", "summary", "journal", "end", "error"
    ]
