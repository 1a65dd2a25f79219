"""The database schema: one SQLModel table class per table of DESIGN §3. Alembic migrations
in `memory/migrations` create exactly this; a test compares the two.

Every row carries `tenant_id` and `user_id`, and child rows reference their parents by
`(tenant_id, user_id, id)` so that no row can point into another user's data. Deleting a
user cascades to everything of theirs. Provenance message ids (`fact_sources.message_id`)
are deliberately not foreign keys: raw messages are deleted by retention, facts stay.
Full text uses the `english` configuration in generated `tsvector` columns."""

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy import (
    text as sql_text,  # the `text` name is also a column of several tables
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlmodel import Field, SQLModel

from memory.core.domain import SessionStatus

# The models declare the default dimension; migrations create `vector(dim)` from settings.
DEFAULT_EMBEDDING_DIM = 384

ROLES = ("user", "assistant", "system", "tool")
SESSION_STATUSES = tuple(s.value for s in SessionStatus)
FACT_KINDS = (
    "preference",
    "profile",
    "relation",
    "event",
    "decision",
    "plan",
    "open_question",
    "observation",
)


def _ts(*, nullable: bool = False, default_now: bool = False) -> Any:
    return Field(
        sa_type=DateTime(timezone=True),
        nullable=nullable,
        sa_column_kwargs={"server_default": text("now()")} if default_now else {},
    )


def _text(**kwargs: Any) -> Any:
    return Field(sa_type=Text, **kwargs)


def _embedding() -> Any:
    return Field(default=None, sa_column=Column(VECTOR(DEFAULT_EMBEDDING_DIM), nullable=True))


def _tsv(source: str, when: str | None = None) -> Any:
    expression = f"to_tsvector('english', {source})"
    if when is not None:
        expression = f"CASE WHEN {when} THEN {expression} END"
    return Field(default=None, sa_column=Column(TSVECTOR, Computed(expression, persisted=True)))


def _user_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "user_id"],
        ["users.tenant_id", "users.id"],
        ondelete="CASCADE",
        name=f"fk_{table}_user",
    )


def _vector_indexes(table: str) -> tuple[Index, Index]:
    return (
        Index(
            f"ix_{table}_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_with={"m": 16, "ef_construction": 64},
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
        Index(f"ix_{table}_tsv", "tsv", postgresql_using="gin"),
    )


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: str = _text(primary_key=True)
    name: str = _text()
    created_at: datetime = _ts(default_now=True)
    # Per-tenant overrides of the lifecycle windows, e.g. {"soft_expiry_s": 600}.
    lifecycle: dict[str, int] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    # Per-tenant overrides of the resumption thresholds, e.g. {"primed_max_gap_s": 86400}.
    resumption: dict[str, int] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    # Per-tenant extraction mode and model, e.g. {"extraction": "llm", "model": "gpt-x"}.
    reflection: dict[str, str] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))


class ApiKey(SQLModel, table=True):
    """A tenant's API key, stored as the SHA-256 of the key: keys are 32 random bytes, so a
    fast hash is enough, and the key itself is shown once, when it is created."""

    __tablename__ = "api_keys"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], ondelete="CASCADE", name="fk_api_keys_tenant"
        ),
        Index("uq_api_keys_hash", "key_hash", unique=True),
    )

    id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = _text()
    name: str = _text()
    key_hash: str = _text()
    created_at: datetime = _ts(default_now=True)
    revoked_at: datetime | None = _ts(nullable=True)


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], ondelete="CASCADE", name="fk_users_tenant"
        ),
    )

    tenant_id: str = _text(primary_key=True)
    id: str = _text(primary_key=True)
    created_at: datetime = _ts(default_now=True)
    # New each time the user is created: a job that read it before a forget cannot write
    # into the user who comes back afterwards (see `memory.infra.rls.lease`).
    incarnation: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )
    # How the user talks (`memory.core.records.UserStyle`), updated at each session end.
    style: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))


class Session(SQLModel, table=True):
    __tablename__ = "sessions"
    __table_args__ = (
        _user_fk("sessions"),
        Index("ix_sessions_scope_last_active", "tenant_id", "user_id", "last_active_at"),
        Index("ix_sessions_status_last_active", "status", "last_active_at"),
        CheckConstraint(f"status IN {SESSION_STATUSES}", name="ck_sessions_status"),
    )

    # Session ids are chosen by clients and belong to their user: two users (of one tenant
    # or two) may use the same id without ever seeing each other's session.
    tenant_id: str = _text(primary_key=True)
    user_id: str = _text(primary_key=True)
    id: uuid.UUID = Field(primary_key=True)
    last_seq: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    started_at: datetime = _ts()
    last_active_at: datetime = _ts()
    device_id: str | None = _text(default=None, nullable=True)
    # The watermark of extraction: every message up to this seq has been read for facts.
    extracted_seq: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    # The durable status; "soft_expired" is derived from last_active_at on read as well.
    status: str = _text(default="active", sa_column_kwargs={"server_default": text("'active'")})
    # The durable part of the hot state: active flow, topic, entities, open questions, totals.
    context: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    # Bumped by every change of the session's state; optimistic concurrency compares it.
    version: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    # Why the session ended when it was not idleness, e.g. "corrupt_state".
    ended_reason: str | None = _text(default=None, nullable=True)


class MessageRow(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id", "session_id"],
            ["sessions.tenant_id", "sessions.user_id", "sessions.id"],
            ondelete="CASCADE",
            name="fk_messages_session",
        ),
        UniqueConstraint("tenant_id", "user_id", "session_id", "seq", name="uq_messages_seq"),
        UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_messages_idem"),
        CheckConstraint(f"role IN {ROLES}", name="ck_messages_role"),
        CheckConstraint("seq > 0", name="ck_messages_seq"),
        Index("ix_messages_scope_created", "tenant_id", "user_id", "created_at"),
        Index("ix_messages_unembedded", "created_at", postgresql_where=text("embedding IS NULL")),
        Index("ix_messages_key_id", "key_id"),
        *_vector_indexes("messages"),
    )

    id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = _text()
    user_id: str = _text()
    session_id: uuid.UUID
    seq: int
    role: str = _text()
    content: str = _text()
    idempotency_key: str = _text()
    device_id: str | None = _text(default=None, nullable=True)
    created_at: datetime = _ts()
    archived_at: datetime | None = _ts(nullable=True)
    embedding: list[float] | None = _embedding()
    # Encryption at rest: the key that sealed `content` (None: plaintext). Sealed rows get
    # no full-text vector, which would be their words in the clear.
    key_id: str | None = _text(default=None, nullable=True)
    tsv: Any = _tsv("content", when="key_id IS NULL")


class FactRow(SQLModel, table=True):
    __tablename__ = "facts"
    __table_args__ = (
        _user_fk("facts"),
        ForeignKeyConstraint(
            ["superseded_by"], ["facts.id"], ondelete="SET NULL", name="fk_facts_superseded_by"
        ),
        UniqueConstraint("tenant_id", "user_id", "id", name="uq_facts_scope_id"),
        CheckConstraint(f"kind IN {FACT_KINDS}", name="ck_facts_kind"),
        CheckConstraint("importance >= 0 AND importance <= 1", name="ck_facts_importance"),
        # Dedup by normalized hash among the facts that are current.
        Index(
            "uq_facts_current_hash",
            "tenant_id",
            "user_id",
            "text_hash",
            unique=True,
            postgresql_where=text("superseded_by IS NULL AND valid_to IS NULL"),
        ),
        Index("ix_facts_scope_valid", "tenant_id", "user_id", "valid_from"),
        Index("ix_facts_unembedded", "created_at", postgresql_where=text("embedding IS NULL")),
        # Contradiction lookups: the current fact about one attribute of the user.
        Index(
            "ix_facts_current_attribute",
            "tenant_id",
            "user_id",
            "attribute",
            postgresql_where=text("valid_to IS NULL AND attribute IS NOT NULL"),
        ),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="ck_facts_confidence"),
        *_vector_indexes("facts"),
    )

    id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = _text()
    user_id: str = _text()
    kind: str = _text()
    text: str = _text()
    text_hash: str = _text()
    importance: float
    confidence: float = Field(default=1.0, sa_column_kwargs={"server_default": sql_text("1.0")})
    # What the fact is about ("residence", "occupation", "preference:coffee"): a newer fact
    # about the same attribute with another value supersedes the older one.
    attribute: str | None = _text(default=None, nullable=True)
    valid_from: datetime = _ts()
    valid_to: datetime | None = _ts(nullable=True)
    superseded_by: uuid.UUID | None = Field(default=None, nullable=True)
    created_at: datetime = _ts()
    # When the plan or event it states takes place, when it names one.
    occurs_at: datetime | None = _ts(nullable=True)
    embedding: list[float] | None = _embedding()
    tsv: Any = _tsv("text")


class FactSource(SQLModel, table=True):
    __tablename__ = "fact_sources"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id", "fact_id"],
            ["facts.tenant_id", "facts.user_id", "facts.id"],
            ondelete="CASCADE",
            name="fk_fact_sources_fact",
        ),
        Index("ix_fact_sources_message", "tenant_id", "user_id", "message_id"),
        Index("ix_fact_sources_session", "tenant_id", "user_id", "session_id"),
    )

    fact_id: uuid.UUID = Field(primary_key=True)
    message_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = _text()
    user_id: str = _text()
    # The message's session, outliving the message (retention deletes raw messages).
    session_id: uuid.UUID | None = Field(default=None, nullable=True)


class KnowledgeRow(SQLModel, table=True):
    __tablename__ = "knowledge"
    __table_args__ = (
        _user_fk("knowledge"),
        UniqueConstraint("tenant_id", "user_id", "id", name="uq_knowledge_scope_id"),
        UniqueConstraint(
            "tenant_id", "user_id", "lineage_id", "version", name="uq_knowledge_lineage_version"
        ),
        CheckConstraint("importance >= 0 AND importance <= 1", name="ck_knowledge_importance"),
        Index("ix_knowledge_unembedded", "created_at", postgresql_where=text("embedding IS NULL")),
        *_vector_indexes("knowledge"),
    )

    id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = _text()
    user_id: str = _text()
    lineage_id: uuid.UUID
    version: int
    text: str = _text()
    importance: float
    created_at: datetime = _ts()
    retired_at: datetime | None = _ts(nullable=True)
    embedding: list[float] | None = _embedding()
    tsv: Any = _tsv("text")


class KnowledgeSource(SQLModel, table=True):
    __tablename__ = "knowledge_sources"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id", "knowledge_id"],
            ["knowledge.tenant_id", "knowledge.user_id", "knowledge.id"],
            ondelete="CASCADE",
            name="fk_knowledge_sources_knowledge",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "user_id", "fact_id"],
            ["facts.tenant_id", "facts.user_id", "facts.id"],
            ondelete="CASCADE",
            name="fk_knowledge_sources_fact",
        ),
        Index("ix_knowledge_sources_fact", "tenant_id", "user_id", "fact_id"),
    )

    knowledge_id: uuid.UUID = Field(primary_key=True)
    fact_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = _text()
    user_id: str = _text()


class SessionSummaryRow(SQLModel, table=True):
    __tablename__ = "session_summaries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id", "session_id"],
            ["sessions.tenant_id", "sessions.user_id", "sessions.id"],
            ondelete="CASCADE",
            name="fk_session_summaries_session",
        ),
        UniqueConstraint("tenant_id", "user_id", "session_id", name="uq_session_summaries_session"),
        Index("ix_session_summaries_scope_ended", "tenant_id", "user_id", "ended_at"),
        Index(
            "ix_session_summaries_unembedded",
            "created_at",
            postgresql_where=text("embedding IS NULL"),
        ),
        *_vector_indexes("session_summaries"),
    )

    id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = _text()
    user_id: str = _text()
    session_id: uuid.UUID
    text: str = _text()
    topics: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    decisions: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    open_loops: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    started_at: datetime = _ts()
    ended_at: datetime = _ts()
    created_at: datetime = _ts()
    # The messages the summary's text retells: its provenance, outliving the messages.
    message_ids: list[uuid.UUID] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Uuid()), nullable=False, server_default=sql_text("'{}'::uuid[]")),
    )
    embedding: list[float] | None = _embedding()
    tsv: Any = _tsv("text")


class JournalEntryRow(SQLModel, table=True):
    __tablename__ = "journal_entries"
    __table_args__ = (
        _user_fk("journal_entries"),
        UniqueConstraint("tenant_id", "user_id", "version", name="uq_journal_entries_version"),
        CheckConstraint("version > 0", name="ck_journal_entries_version"),
        # One journal version per ended session: a second worker's write is a no-op.
        Index(
            "uq_journal_entries_session",
            "tenant_id",
            "user_id",
            "session_id",
            unique=True,
            postgresql_where=text("session_id IS NOT NULL"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = _text()
    user_id: str = _text()
    version: int
    content: str = _text()
    # The version as data: [{"kind": "now|session|earlier|note", "title", "body", "items",
    # "session_id", "on"}]; `content` is these rendered as Markdown.
    sections: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    session_id: uuid.UUID | None = Field(default=None, nullable=True)
    created_at: datetime = _ts()


class SessionCacheRow(SQLModel, table=True):
    """Hot session state when no Redis is configured: the serialized `SessionState`, kept
    until `expires_at` (the hard-expiry window), written only by a newer version."""

    __tablename__ = "session_cache"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id", "session_id"],
            ["sessions.tenant_id", "sessions.user_id", "sessions.id"],
            ondelete="CASCADE",
            name="fk_session_cache_session",
        ),
        Index("ix_session_cache_expires", "expires_at"),
    )

    tenant_id: str = _text(primary_key=True)
    user_id: str = _text(primary_key=True)
    session_id: uuid.UUID = Field(primary_key=True)
    version: int
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    expires_at: datetime = _ts()


class Run(SQLModel, table=True):
    """One execution of a background job. Sweeps that span users carry no user, so the
    scope columns are the one nullable exception to "every row carries its scope"."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_kind_started", "kind", "started_at"),
        Index("ix_runs_scope", "tenant_id", "user_id", "started_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    kind: str = _text()
    tenant_id: str | None = _text(default=None)
    user_id: str | None = _text(default=None)
    status: str = _text()
    session_id: uuid.UUID | None = Field(default=None, nullable=True)
    model: str | None = _text(default=None)
    prompt_version: str | None = _text(default=None)
    input_tokens: int = Field(default=0, sa_column_kwargs={"server_default": sql_text("0")})
    output_tokens: int = Field(default=0, sa_column_kwargs={"server_default": sql_text("0")})
    llm_calls: int = 0
    retries: int = 0
    wall_ms: int = 0
    error: str | None = _text(default=None)
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)


metadata = SQLModel.metadata
