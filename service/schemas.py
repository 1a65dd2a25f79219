"""Request and response bodies of the REST API. Responses are built from the library's
frozen records; requests are validated here and again by the library."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from memory import journal
from memory.records import Fact, JournalEntry, Knowledge, Message, RecallHit, SessionSummary
from memory.session_state import SessionState

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


class TenantKey(BaseModel):
    tenant_id: str
    key_id: uuid.UUID
    api_key: str


class TenantSettingsIn(_In):
    lifecycle: dict[str, int] | None = None
    resumption: dict[str, int] | None = None
    # {"extraction": "rules|llm|auto", "model": …, "redact": [...], "redact_patterns": {…}}
    reflection: dict[str, Any] | None = None


class NewMessage(_In):
    role: Literal["user", "assistant", "system", "tool"]
    content: str
    device_id: str | None = Field(default=None, max_length=128)
    takeover: bool = False
    at: Instant | None = None


class MessageOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    seq: int
    role: str
    content: str
    device_id: str | None
    created_at: datetime

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


class ResumeIn(_In):
    message: str | None = None
    device_id: str | None = Field(default=None, max_length=128)
    now: Instant | None = None
    budget_tokens: int | None = Field(default=None, ge=50, le=200_000)


class RecallIn(_In):
    query: str
    k: int = 10
    tiers: list[str] | None = None
    kinds: list[str] | None = None
    since: Instant | None = None
    until: Instant | None = None
    as_of: Instant | None = None


def state_out(state: SessionState) -> dict[str, Any]:
    return state.model_dump(mode="json")


def hit_out(hit: RecallHit) -> dict[str, Any]:
    return {
        "tier": hit.tier.value,
        "id": str(hit.id),
        "text": hit.text,
        "at": hit.at.isoformat(),
        "score": hit.score,
        "kind": hit.kind.value if hit.kind else None,
        "parts": {
            "vector_rank": hit.parts.vector_rank,
            "cosine": hit.parts.cosine,
            "text_rank": hit.parts.text_rank,
            "text_score": hit.parts.text_score,
            "context_score": hit.parts.context_score,
            "fused": hit.parts.fused,
            "recency": hit.parts.recency,
            "importance": hit.parts.importance,
        },
        "provenance": {
            "message_ids": [str(i) for i in hit.provenance.message_ids],
            "fact_ids": [str(i) for i in hit.provenance.fact_ids],
            "session_id": str(hit.provenance.session_id) if hit.provenance.session_id else None,
        },
    }


def fact_out(fact: Fact) -> dict[str, Any]:
    return {
        "id": str(fact.id),
        "kind": fact.kind.value,
        "text": fact.text,
        "importance": fact.importance,
        "confidence": fact.confidence,
        "attribute": fact.attribute,
        "valid_from": fact.valid_from.isoformat(),
        "valid_to": fact.valid_to.isoformat() if fact.valid_to else None,
        "superseded_by": str(fact.superseded_by) if fact.superseded_by else None,
        "source_message_ids": [str(i) for i in fact.source_message_ids],
    }


def knowledge_out(item: Knowledge) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "lineage_id": str(item.lineage_id),
        "version": item.version,
        "text": item.text,
        "importance": item.importance,
        "created_at": item.created_at.isoformat(),
        "retired_at": item.retired_at.isoformat() if item.retired_at else None,
        "fact_ids": [str(i) for i in item.fact_ids],
    }


def summary_out(summary: SessionSummary) -> dict[str, Any]:
    return {
        "id": str(summary.id),
        "session_id": str(summary.session_id),
        "text": summary.text,
        "topics": list(summary.topics),
        "decisions": list(summary.decisions),
        "open_loops": list(summary.open_loops),
        "started_at": summary.started_at.isoformat(),
        "ended_at": summary.ended_at.isoformat(),
    }


def journal_out(entry: JournalEntry) -> dict[str, Any]:
    return {
        "version": entry.version,
        "content": entry.content,
        "created_at": entry.created_at.isoformat(),
        "session_id": str(entry.session_id) if entry.session_id else None,
        "sections": journal.to_json(entry.sections),
    }
