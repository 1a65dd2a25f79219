"""Column and index helpers of the table classes (`memory.infra.schema` and
`memory.infra.service_tables`), and the value lists their check constraints allow."""

from typing import Any

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import Column, Computed, DateTime, ForeignKeyConstraint, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlmodel import Field

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


def ts(*, nullable: bool = False, default_now: bool = False) -> Any:
    return Field(
        sa_type=DateTime(timezone=True),
        nullable=nullable,
        sa_column_kwargs={"server_default": text("now()")} if default_now else {},
    )


def text_column(**kwargs: Any) -> Any:
    return Field(sa_type=Text, **kwargs)


def metadata_column() -> Any:
    """The caller's free-form JSON object (`memory.core.domain.metadata` bounds it). The
    attribute is `meta`: `metadata` is SQLAlchemy's own name on a table class."""
    return Field(
        default_factory=dict,
        sa_column=Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )


def embedding() -> Any:
    return Field(default=None, sa_column=Column(VECTOR(DEFAULT_EMBEDDING_DIM), nullable=True))


def tsv(source: str, when: str | None = None) -> Any:
    expression = f"to_tsvector('english', {source})"
    if when is not None:
        expression = f"CASE WHEN {when} THEN {expression} END"
    return Field(default=None, sa_column=Column(TSVECTOR, Computed(expression, persisted=True)))


def user_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "user_id"],
        ["users.tenant_id", "users.id"],
        ondelete="CASCADE",
        name=f"fk_{table}_user",
    )


def vector_indexes(table: str) -> tuple[Index, Index]:
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
