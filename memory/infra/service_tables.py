"""The service-wide tables, beside the per-user ones of `memory.infra.schema`: tenants and
their API keys, the hot session state when there is no Redis, and the run ledger."""

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKeyConstraint, Index, LargeBinary
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from memory.infra.columns import text_column, ts


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: str = text_column(primary_key=True)
    name: str = text_column()
    created_at: datetime = ts(default_now=True)
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
    tenant_id: str = text_column()
    name: str = text_column()
    key_hash: str = text_column()
    created_at: datetime = ts(default_now=True)
    revoked_at: datetime | None = ts(nullable=True)
    expires_at: datetime | None = ts(nullable=True)  # refused after, like a revoked key


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

    tenant_id: str = text_column(primary_key=True)
    user_id: str = text_column(primary_key=True)
    session_id: uuid.UUID = Field(primary_key=True)
    version: int
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    expires_at: datetime = ts()


class Run(SQLModel, table=True):
    """One execution of a background job. Sweeps that span users carry no user, so the
    scope columns are the one nullable exception to "every row carries its scope"."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_kind_started", "kind", "started_at"),
        Index("ix_runs_scope", "tenant_id", "user_id", "started_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    kind: str = text_column()
    tenant_id: str | None = text_column(default=None)
    user_id: str | None = text_column(default=None)
    status: str = text_column()
    session_id: uuid.UUID | None = Field(default=None, nullable=True)
    model: str | None = text_column(default=None)
    prompt_version: str | None = text_column(default=None)
    input_tokens: int = Field(default=0, sa_column_kwargs={"server_default": sql_text("0")})
    output_tokens: int = Field(default=0, sa_column_kwargs={"server_default": sql_text("0")})
    llm_calls: int = 0
    retries: int = 0
    wall_ms: int = 0
    error: str | None = text_column(default=None)
    started_at: datetime = ts()
    finished_at: datetime | None = ts(nullable=True)
    # A change made by hand: who made it (an API key, the CLI, an MCP client) and to what.
    actor: str | None = text_column(default=None)
    subject_id: uuid.UUID | None = Field(default=None, nullable=True)
