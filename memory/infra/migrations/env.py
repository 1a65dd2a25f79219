"""Alembic environment: runs on the connection that `memory.infra.migrate` hands it, so
migrations share the service's engine and its advisory lock."""

from alembic import context
from sqlalchemy.engine import Connection

from memory.infra.schema import metadata

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `memstrata db upgrade` (memory.infra.migrate)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    compare_type=True,
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
