"""The database schema: one SQLModel table class per per-user table of DESIGN §3 (the
service-wide ones are in `memory.infra.service_tables`, column helpers in
`memory.infra.columns`). Alembic migrations
in `memory/infra/migrations` create exactly this; a test compares the two.

Every row carries `tenant_id` and `user_id`, and child rows reference their parents by
`(tenant_id, user_id, id)` so that no row can point into another user's data. Deleting a
user cascades to everything of theirs. Provenance message ids (`fact_sources.message_id`)
are deliberately not foreign keys: raw messages are deleted by retention, facts stay.
Full text uses the `english` configuration in generated `tsvector` columns."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy import (
    text as sql_text,  # the `text` name is also a column of several tables
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from memory.infra.columns import (
    DEFAULT_EMBEDDING_DIM,
    FACT_KINDS,
    ROLES,
    SESSION_STATUSES,
    embedding,
    metadata_column,
    text_column,
    ts,
    tsv,
    user_fk,
    vector_indexes,
)
from memory.infra.service_tables import ApiKey, Run, SessionCacheRow, Tenant


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], ondelete="CASCADE", name="fk_users_tenant"
        ),
    )

    tenant_id: str = text_column(primary_key=True)
    id: str = text_column(primary_key=True)
    created_at: datetime = ts(default_now=True)
    # New each time the user is created: a job that read it before a forget cannot write
    # into the user who comes back afterwards (see `memory.infra.rls.lease`).
    incarnation: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )
    # How the user talks (`memory.core.records.UserStyle`), updated at each session end.
    style: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    meta: dict[str, Any] = metadata_column()


class Session(SQLModel, table=True):
    __tablename__ = "sessions"
    __table_args__ = (
        user_fk("sessions"),
        Index("ix_sessions_scope_last_active", "tenant_id", "user_id", "last_active_at"),
        Index("ix_sessions_status_last_active", "status", "last_active_at"),
        Index(
            "ix_sessions_scope_thread_last_active",
            "tenant_id",
            "user_id",
            "thread",
            "last_active_at",
        ),
        CheckConstraint(f"status IN {SESSION_STATUSES}", name="ck_sessions_status"),
    )

    # Session ids are chosen by clients and belong to their user: two users (of one tenant
    # or two) may use the same id without ever seeing each other's session.
    tenant_id: str = text_column(primary_key=True)
    user_id: str = text_column(primary_key=True)
    id: uuid.UUID = Field(primary_key=True)
    last_seq: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    started_at: datetime = ts()
    last_active_at: datetime = ts()
    device_id: str | None = text_column(default=None, nullable=True)
    # The watermark of extraction: every message up to this seq has been read for facts.
    extracted_seq: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    # The durable status; "soft_expired" is derived from last_active_at on read as well.
    status: str = text_column(
        default="active", sa_column_kwargs={"server_default": text("'active'")}
    )
    # The durable part of the hot state: active flow, topic, entities, open questions, totals.
    context: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    # Bumped by every change of the session's state; optimistic concurrency compares it.
    version: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    # Why the session ended when it was not idleness, e.g. "corrupt_state".
    ended_reason: str | None = text_column(default=None, nullable=True)
    # Which of the user's conversation threads the session belongs to.
    thread: str = text_column(default="main", sa_column_kwargs={"server_default": text("'main'")})
    meta: dict[str, Any] = metadata_column()


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
        *vector_indexes("messages"),
    )

    id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = text_column()
    user_id: str = text_column()
    session_id: uuid.UUID
    seq: int
    role: str = text_column()
    content: str = text_column()
    idempotency_key: str = text_column()
    device_id: str | None = text_column(default=None, nullable=True)
    created_at: datetime = ts()
    archived_at: datetime | None = ts(nullable=True)
    embedding: list[float] | None = embedding()
    # Encryption at rest: the key that sealed `content` (None: plaintext). Sealed rows get
    # no full-text vector, which would be their words in the clear.
    key_id: str | None = text_column(default=None, nullable=True)
    tsv: Any = tsv("content", when="key_id IS NULL")
    meta: dict[str, Any] = metadata_column()


class FactRow(SQLModel, table=True):
    __tablename__ = "facts"
    __table_args__ = (
        user_fk("facts"),
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
        *vector_indexes("facts"),
    )

    id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = text_column()
    user_id: str = text_column()
    kind: str = text_column()
    text: str = text_column()
    text_hash: str = text_column()
    importance: float
    confidence: float = Field(default=1.0, sa_column_kwargs={"server_default": sql_text("1.0")})
    # What the fact is about ("residence", "occupation", "preference:coffee"): a newer fact
    # about the same attribute with another value supersedes the older one.
    attribute: str | None = text_column(default=None, nullable=True)
    valid_from: datetime = ts()
    valid_to: datetime | None = ts(nullable=True)
    superseded_by: uuid.UUID | None = Field(default=None, nullable=True)
    created_at: datetime = ts()
    # When the plan or event it states takes place, when it names one.
    occurs_at: datetime | None = ts(nullable=True)
    # Put in the profile whatever else it holds: the user or the operator asked for it.
    pinned: bool = Field(default=False, sa_column_kwargs={"server_default": sql_text("false")})
    # Says again what its source message says, sentence by sentence (an observation, or a
    # statement typed by its cues): while the message is kept, the message speaks for it.
    restates: bool = Field(default=False, sa_column_kwargs={"server_default": sql_text("false")})
    embedding: list[float] | None = embedding()
    tsv: Any = tsv("text")


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
    tenant_id: str = text_column()
    user_id: str = text_column()
    # The message's session, outliving the message (retention deletes raw messages).
    session_id: uuid.UUID | None = Field(default=None, nullable=True)
    # The message's metadata, outliving it likewise: filters on it still find the fact.
    meta: dict[str, Any] = metadata_column()


class KnowledgeRow(SQLModel, table=True):
    __tablename__ = "knowledge"
    __table_args__ = (
        user_fk("knowledge"),
        UniqueConstraint("tenant_id", "user_id", "id", name="uq_knowledge_scope_id"),
        UniqueConstraint(
            "tenant_id", "user_id", "lineage_id", "version", name="uq_knowledge_lineage_version"
        ),
        CheckConstraint("importance >= 0 AND importance <= 1", name="ck_knowledge_importance"),
        Index("ix_knowledge_unembedded", "created_at", postgresql_where=text("embedding IS NULL")),
        *vector_indexes("knowledge"),
    )

    id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = text_column()
    user_id: str = text_column()
    lineage_id: uuid.UUID
    version: int
    text: str = text_column()
    importance: float
    created_at: datetime = ts()
    retired_at: datetime | None = ts(nullable=True)
    embedding: list[float] | None = embedding()
    tsv: Any = tsv("text")


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
    tenant_id: str = text_column()
    user_id: str = text_column()


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
        *vector_indexes("session_summaries"),
    )

    id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = text_column()
    user_id: str = text_column()
    session_id: uuid.UUID
    text: str = text_column()
    topics: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    decisions: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    open_loops: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    started_at: datetime = ts()
    ended_at: datetime = ts()
    created_at: datetime = ts()
    # The messages the summary's text retells: its provenance, outliving the messages.
    message_ids: list[uuid.UUID] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Uuid()), nullable=False, server_default=sql_text("'{}'::uuid[]")),
    )
    embedding: list[float] | None = embedding()
    tsv: Any = tsv("text")


class JournalEntryRow(SQLModel, table=True):
    __tablename__ = "journal_entries"
    __table_args__ = (
        user_fk("journal_entries"),
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
    tenant_id: str = text_column()
    user_id: str = text_column()
    version: int
    content: str = text_column()
    # The version as data: [{"kind": "now|session|earlier|note", "title", "body", "items",
    # "session_id", "on"}]; `content` is these rendered as Markdown.
    sections: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    session_id: uuid.UUID | None = Field(default=None, nullable=True)
    created_at: datetime = ts()


metadata = SQLModel.metadata
__all__ = ["DEFAULT_EMBEDDING_DIM", "ApiKey", "Run", "SessionCacheRow", "Tenant", "metadata"]
