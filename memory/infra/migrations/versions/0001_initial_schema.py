"""Initial schema: every tier of DESIGN §3-4, HNSW cosine and GIN full-text indexes.

The vector dimension comes from the caller (`MEMSTRATA_EMBEDDING__DIM`) and is fixed here.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 22:46:29.200941
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import VECTOR
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    dim = int(op.get_context().config.attributes.get("embedding_dim", 384))  # type: ignore[union-attr]
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("llm_calls", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("wall_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_runs_kind_started", "runs", ["kind", "started_at"], unique=False)
    op.create_table(
        "tenants",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "users",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_users_tenant", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
    )
    op.create_table(
        "facts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.Text(), nullable=False),
        sa.Column("importance", sa.Float(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("embedding", VECTOR(dim=dim), nullable=True),
        sa.Column(
            "tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english', text)", persisted=True),
            nullable=True,
        ),
        sa.CheckConstraint(
            "kind IN ('preference', 'profile', 'relation', 'event', 'decision', 'plan', "
            "'open_question')",
            name="ck_facts_kind",
        ),
        sa.CheckConstraint("importance >= 0 AND importance <= 1", name="ck_facts_importance"),
        sa.ForeignKeyConstraint(
            ["superseded_by"], ["facts.id"], name="fk_facts_superseded_by", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name="fk_facts_user",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "user_id", "id", name="uq_facts_scope_id"),
    )
    op.create_index(
        "ix_facts_embedding_hnsw",
        "facts",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_with={"m": 16, "ef_construction": 64},
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_index(
        "ix_facts_scope_valid", "facts", ["tenant_id", "user_id", "valid_from"], unique=False
    )
    op.create_index("ix_facts_tsv", "facts", ["tsv"], unique=False, postgresql_using="gin")
    op.create_index(
        "ix_facts_unembedded",
        "facts",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("embedding IS NULL"),
    )
    op.create_index(
        "uq_facts_current_hash",
        "facts",
        ["tenant_id", "user_id", "text_hash"],
        unique=True,
        postgresql_where=sa.text("superseded_by IS NULL AND valid_to IS NULL"),
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version > 0", name="ck_journal_entries_version"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name="fk_journal_entries_user",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "user_id", "version", name="uq_journal_entries_version"),
    )
    op.create_table(
        "knowledge",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("lineage_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("importance", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("embedding", VECTOR(dim=dim), nullable=True),
        sa.Column(
            "tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english', text)", persisted=True),
            nullable=True,
        ),
        sa.CheckConstraint("importance >= 0 AND importance <= 1", name="ck_knowledge_importance"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name="fk_knowledge_user",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "user_id", "id", name="uq_knowledge_scope_id"),
        sa.UniqueConstraint(
            "tenant_id", "user_id", "lineage_id", "version", name="uq_knowledge_lineage_version"
        ),
    )
    op.create_index(
        "ix_knowledge_embedding_hnsw",
        "knowledge",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_with={"m": 16, "ef_construction": 64},
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_index("ix_knowledge_tsv", "knowledge", ["tsv"], unique=False, postgresql_using="gin")
    op.create_index(
        "ix_knowledge_unembedded",
        "knowledge",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("embedding IS NULL"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("last_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name="fk_sessions_user",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "user_id", "id", name="uq_sessions_scope_id"),
    )
    op.create_index(
        "ix_sessions_scope_last_active",
        "sessions",
        ["tenant_id", "user_id", "last_active_at"],
        unique=False,
    )
    op.create_table(
        "fact_sources",
        sa.Column("fact_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id", "fact_id"],
            ["facts.tenant_id", "facts.user_id", "facts.id"],
            name="fk_fact_sources_fact",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("fact_id", "message_id"),
    )
    op.create_index(
        "ix_fact_sources_message",
        "fact_sources",
        ["tenant_id", "user_id", "message_id"],
        unique=False,
    )
    op.create_table(
        "knowledge_sources",
        sa.Column("knowledge_id", sa.Uuid(), nullable=False),
        sa.Column("fact_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id", "fact_id"],
            ["facts.tenant_id", "facts.user_id", "facts.id"],
            name="fk_knowledge_sources_fact",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id", "knowledge_id"],
            ["knowledge.tenant_id", "knowledge.user_id", "knowledge.id"],
            name="fk_knowledge_sources_knowledge",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("knowledge_id", "fact_id"),
    )
    op.create_index(
        "ix_knowledge_sources_fact",
        "knowledge_sources",
        ["tenant_id", "user_id", "fact_id"],
        unique=False,
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("embedding", VECTOR(dim=dim), nullable=True),
        sa.Column(
            "tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english', content)", persisted=True),
            nullable=True,
        ),
        sa.CheckConstraint(
            "role IN ('user', 'assistant', 'system', 'tool')", name="ck_messages_role"
        ),
        sa.CheckConstraint("seq > 0", name="ck_messages_seq"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id", "session_id"],
            ["sessions.tenant_id", "sessions.user_id", "sessions.id"],
            name="fk_messages_session",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "user_id", "idempotency_key", name="uq_messages_idem"),
        sa.UniqueConstraint("tenant_id", "user_id", "session_id", "seq", name="uq_messages_seq"),
    )
    op.create_index(
        "ix_messages_embedding_hnsw",
        "messages",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_with={"m": 16, "ef_construction": 64},
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_index(
        "ix_messages_scope_created",
        "messages",
        ["tenant_id", "user_id", "created_at"],
        unique=False,
    )
    op.create_index("ix_messages_tsv", "messages", ["tsv"], unique=False, postgresql_using="gin")
    op.create_index(
        "ix_messages_unembedded",
        "messages",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("embedding IS NULL"),
    )
    op.create_table(
        "session_summaries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("topics", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("decisions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("open_loops", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("embedding", VECTOR(dim=dim), nullable=True),
        sa.Column(
            "tsv",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english', text)", persisted=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id", "session_id"],
            ["sessions.tenant_id", "sessions.user_id", "sessions.id"],
            name="fk_session_summaries_session",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "tenant_id", "user_id", "session_id", name="uq_session_summaries_session"
        ),
    )
    op.create_index(
        "ix_session_summaries_embedding_hnsw",
        "session_summaries",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_with={"m": 16, "ef_construction": 64},
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_index(
        "ix_session_summaries_scope_ended",
        "session_summaries",
        ["tenant_id", "user_id", "ended_at"],
        unique=False,
    )
    op.create_index(
        "ix_session_summaries_tsv",
        "session_summaries",
        ["tsv"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_session_summaries_unembedded",
        "session_summaries",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("embedding IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("session_summaries")
    op.drop_table("messages")
    op.drop_table("knowledge_sources")
    op.drop_table("fact_sources")
    op.drop_table("sessions")
    op.drop_table("knowledge")
    op.drop_table("journal_entries")
    op.drop_table("facts")
    op.drop_table("users")
    op.drop_table("tenants")
    op.drop_table("runs")
