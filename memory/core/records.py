"""Frozen records the stores return: plain values with their provenance, never live ORM rows."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from memory.core.domain import FactKind, Role, Scope, Tier


@dataclass(frozen=True, slots=True)
class Message:
    """One message of the raw transcript tier, in its session's gapless `seq` order."""

    id: uuid.UUID
    scope: Scope
    session_id: uuid.UUID
    seq: int
    role: Role
    content: str
    idempotency_key: str
    created_at: datetime
    archived_at: datetime | None = None
    device_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fact:
    """A discrete statement about the user; `superseded_by` points at its replacement."""

    id: uuid.UUID
    scope: Scope
    kind: FactKind
    text: str
    importance: float
    confidence: float
    attribute: str | None
    valid_from: datetime
    valid_to: datetime | None
    superseded_by: uuid.UUID | None
    created_at: datetime
    source_message_ids: tuple[uuid.UUID, ...] = ()
    # When a plan or an event takes place (not when it was said): a plan is live until
    # then, and past after.
    occurs_at: datetime | None = None
    pinned: bool = False  # always in the profile, whatever else it holds
    restates: bool = False  # says again what its source message says (an observation)


@dataclass(frozen=True, slots=True)
class Knowledge:
    """A synthesized insight citing the facts it stands on; revisions share a `lineage_id`."""

    id: uuid.UUID
    scope: Scope
    lineage_id: uuid.UUID
    version: int
    text: str
    importance: float
    created_at: datetime
    retired_at: datetime | None
    fact_ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """What one session was about: topics, decisions and loops left open."""

    id: uuid.UUID
    scope: Scope
    session_id: uuid.UUID
    text: str
    topics: tuple[str, ...]
    decisions: tuple[str, ...]
    open_loops: tuple[str, ...]
    started_at: datetime
    ended_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class UserStyle:
    """How the user talks, as running figures over `messages` of their messages."""

    messages: int = 0
    words_per_message: float = 0.0
    questions: float = 0.0  # share of messages that ask something
    formality: float = 0.5  # 0 casual … 1 formal
    technical: float = 0.0  # share of messages with technical vocabulary
    tone: float = 0.0  # -1 negative … 1 positive, recent sessions weighing most
    subjects: tuple[str, ...] = ()  # what they talk about most
    subject_counts: dict[str, int] = field(default_factory=dict)


class SectionKind(StrEnum):
    """The parts of a journal: current priorities, one section per session, the condensed
    older sessions, and free notes (a journal written by hand through the library)."""

    NOW = "now"
    SESSION = "session"
    EARLIER = "earlier"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class JournalSection:
    """One section of a journal version: data that tiers hand each other; Markdown is only
    how it is shown (`memory.stores.journal.render`)."""

    kind: SectionKind
    title: str = ""
    body: str = ""
    items: tuple[str, ...] = ()
    session_id: uuid.UUID | None = None
    on: date | None = None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One version of a user's narrative journal; every version is kept. `content` is the
    sections rendered as Markdown."""

    id: uuid.UUID
    scope: Scope
    version: int
    content: str
    created_at: datetime
    session_id: uuid.UUID | None = None
    sections: tuple[JournalSection, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoreParts:
    """How a recall hit earned its score: each ranker's rank (None if it missed), the raw
    signals (cosine, the row's BM25, its session neighbours' BM25), their fusion in standard
    deviations of the candidate pool, and the recency and importance added to it."""

    vector_rank: int | None
    cosine: float | None
    text_rank: int | None
    text_score: float | None
    context_score: float | None
    fused: float
    recency: float
    importance: float


@dataclass(frozen=True, slots=True)
class Provenance:
    message_ids: tuple[uuid.UUID, ...] = ()
    fact_ids: tuple[uuid.UUID, ...] = ()
    session_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class RecallHit:
    tier: Tier
    id: uuid.UUID
    text: str
    at: datetime
    score: float
    parts: ScoreParts
    provenance: Provenance = field(default_factory=Provenance)
    kind: FactKind | None = None
