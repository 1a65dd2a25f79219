"""Bind-parameter helpers shared by the stores' named SQL."""

from collections.abc import Sequence

from memory.domain import Scope


def scope_params(scope: Scope) -> dict[str, str]:
    """The parameters every scoped statement starts from."""
    return {"tenant_id": scope.tenant_id, "user_id": scope.user_id}


def vector_literal(embedding: Sequence[float] | None) -> str | None:
    """pgvector's text form, bound as `CAST(:param AS vector)`."""
    return None if embedding is None else "[" + ",".join(map(repr, map(float, embedding))) + "]"
