"""Bind-parameter helpers and the few statements shared by the stores' named SQL."""

from collections.abc import Sequence

from sqlalchemy import text

from memory.core.domain import Scope


def scope_params(scope: Scope) -> dict[str, str]:
    """The parameters every scoped statement starts from."""
    return {"tenant_id": scope.tenant_id, "user_id": scope.user_id}


def vector_literal(embedding: Sequence[float] | None) -> str | None:
    """pgvector's text form, bound as `CAST(:param AS vector)`."""
    return None if embedding is None else "[" + ",".join(map(repr, map(float, embedding))) + "]"


# Whether the scope has this session: tells "no rows yet" from "no such session" (404).
SESSION_EXISTS = text(
    "SELECT 1 FROM sessions WHERE tenant_id = :tenant_id AND user_id = :user_id"
    " AND id = :session_id"
)
