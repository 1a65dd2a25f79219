"""Brings the schema to the newest Alembic revision, under an advisory lock so that several
processes starting at once migrate exactly once; then checks the vector dimension."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.errors import ConfigurationError
from memory.infra.rls import grant_app_role, owner_transaction

_SCRIPTS = Path(__file__).parent / "migrations"
# Any fixed 64-bit number; it names "the memstrata migration" among advisory locks.
_MIGRATION_LOCK = 0x6D656D7374726174

_EMBEDDING_DIM = """
SELECT atttypmod FROM pg_attribute
WHERE attrelid = 'messages'::regclass AND attname = 'embedding'
"""


def alembic_config(connection: Connection, embedding_dim: int) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    config.attributes["embedding_dim"] = embedding_dim
    return config


def head_revision() -> str:
    """The newest migration shipped with this code."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, "migrations ship with the package"
    return head


def _upgrade(connection: Connection, embedding_dim: int) -> None:
    command.upgrade(alembic_config(connection, embedding_dim), "head")


async def upgrade(engine: AsyncEngine, embedding_dim: int) -> None:
    """Migrate to head; refuse a database whose vectors have another dimension."""
    async with owner_transaction(engine) as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        await conn.run_sync(_upgrade, embedding_dim)
        await grant_app_role(conn)
        stored = await conn.scalar(text(_EMBEDDING_DIM))
    if stored != embedding_dim:
        raise ConfigurationError(
            f"the database stores {stored}-dimensional embeddings but "
            f"MEMSTRATA_EMBEDDING__DIM is {embedding_dim}; the dimension is fixed when the "
            "schema is first migrated: use the same embedder, or a new database"
        )
