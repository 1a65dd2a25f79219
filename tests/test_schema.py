"""The schema: migrations produce exactly the models, run once under concurrency, pin the
vector dimension, explain a missing pgvector, and the embedded default is shared."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.errors import ConfigurationError
from memory.core.settings import Settings
from memory.infra.database import ensure_vector_extension, make_engine, open_database
from memory.infra.migrate import head_revision, upgrade
from memory.infra.schema import metadata
from tests.conftest import database_url


@pytest.fixture
async def empty_database(admin: AsyncEngine, server_url: str) -> AsyncIterator[str]:
    name = f"e_{uuid.uuid4().hex[:16]}"
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield database_url(server_url, name)
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _differences(conn: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(_differences) == []


async def test_concurrent_upgrades_migrate_once(empty_database: str) -> None:
    engines = [make_engine(empty_database, 1) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(e, 384) for e in engines))
        await upgrade(engines[0], 384)  # and again: nothing to do
        async with engines[0].connect() as conn:
            assert (
                await conn.scalar(text("SELECT version_num FROM alembic_version"))
                == head_revision()
            )
            assert await conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    finally:
        for e in engines:
            await e.dispose()


async def test_a_different_embedding_dimension_is_refused(empty_database: str) -> None:
    engine = make_engine(empty_database, 1)
    try:
        await upgrade(engine, 768)
        with pytest.raises(ConfigurationError, match="768-dimensional"):
            await upgrade(engine, 384)
    finally:
        await engine.dispose()


async def test_missing_pgvector_permission_says_how_to_fix_it(
    admin: AsyncEngine, empty_database: str
) -> None:
    role = f"limited_{uuid.uuid4().hex[:8]}"
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE ROLE {role} LOGIN"))
    url = empty_database.replace("://postgres", f"://{role}", 1)
    assert role in url
    engine = make_engine(url, 1)
    try:
        with pytest.raises(ConfigurationError, match=r"CREATE EXTENSION vector"):
            await ensure_vector_extension(engine)
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP ROLE {role}"))


async def test_embedded_default_is_reused_by_a_second_process(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    database = await open_database(settings)
    try:
        async with database.engine.connect() as conn:
            started = await conn.scalar(text("SELECT pg_postmaster_start_time()"))
        env = {**os.environ, "MEMSTRATA_DATA_DIR": str(tmp_path)}
        env.pop("MEMSTRATA_DATABASE_URL", None)
        cli = [sys.executable, "-c", "from service.cli import app; app()", "db", "upgrade"]
        done = await asyncio.to_thread(subprocess.run, cli, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        async with database.engine.connect() as conn:
            assert await conn.scalar(text("SELECT pg_postmaster_start_time()")) == started
            assert (
                await conn.scalar(text("SELECT version_num FROM alembic_version"))
                == head_revision()
            )
    finally:
        await database.close()
    assert not (tmp_path / "postgres" / "postmaster.pid").exists(), "last user stops it"
