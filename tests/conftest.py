"""Shared fixtures: one real Postgres with pgvector per test session (the embedded one, or
`MEMSTRATA_TEST_DATABASE_URL`), a migrated template database, and a fresh clone of it for
every test that touches the database."""

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from memory.core.settings import EmbeddingSettings, Settings
from memory.infra.database import async_url, ensure_vector_extension, make_engine
from memory.infra.embedded import EmbeddedPostgres
from memory.infra.embedder import SentenceTransformerEmbedder
from memory.infra.migrate import upgrade
from service.container import Container, build_container
from tests.api_harness import Api, make_api
from tests.services import Serve, Service, new_tenant

TEMPLATE = f"memstrata_template_{os.getpid()}"


class TravelClock:
    """An injectable clock that only moves when a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Commands configure the root logger for their process; tests run many in one."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """An SQLAlchemy URL of a database on a server where tests may create databases."""
    configured = os.environ.get("MEMSTRATA_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    data_dir = Path(tempfile.mkdtemp(prefix="memstrata-test-pg-"))
    server = EmbeddedPostgres(data_dir)
    try:
        yield server.url("postgres")
    finally:
        server.release()
        shutil.rmtree(data_dir, ignore_errors=True)


def database_url(server: str, name: str) -> str:
    url = make_url(async_url(server))
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
async def admin(server_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(async_url(server_url), isolation_level="AUTOCOMMIT")
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def template(admin: AsyncEngine, server_url: str) -> AsyncIterator[str]:
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{TEMPLATE}"'))
        await conn.execute(text(f'CREATE DATABASE "{TEMPLATE}"'))
    engine = make_engine(database_url(server_url, TEMPLATE), 1)
    await ensure_vector_extension(engine)
    await upgrade(engine, 384)
    await engine.dispose()
    yield TEMPLATE
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))


async def cloned_database(admin: AsyncEngine, template: str, server_url: str) -> AsyncIterator[str]:
    """The URL of a new database cloned from the migrated template, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield database_url(server_url, name)
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def fresh_database(admin: AsyncEngine, template: str, server_url: str) -> AsyncIterator[str]:
    """The URL of a new database cloned from the migrated template, dropped afterwards."""
    async for url in cloned_database(admin, template, server_url):
        yield url


@pytest.fixture
async def engine(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(fresh_database, 25)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> TravelClock:
    return TravelClock()


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(EmbeddingSettings())


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The shared local Redis on its own DB index, flushed before and after each test."""
    url = os.environ.get("MEMSTRATA_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
    client = aioredis.Redis.from_url(url)
    await client.flushdb()
    yield url
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own, on a free port, that the test may kill."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", server
    server.kill()
    server.wait()


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    """Starts `memstrata serve` on a database (embedded in `tmp_path` when None), waits
    until it is ready, creates tenant "acme"; returns the service and the tenant's key.
    Every service started is stopped afterwards."""
    started: list[Service] = []

    async def start(database_url: str | None) -> tuple[Service, str]:
        service = Service(database_url, tmp_path)
        started.append(service)
        service.start()
        await service.ready()
        return service, await new_tenant(service.url, "acme")

    yield start
    for service in started:
        service.stop()


@pytest.fixture
async def api(
    fresh_database: str, clock: TravelClock, embedder: SentenceTransformerEmbedder
) -> AsyncIterator[Api]:
    async for made in make_api(fresh_database, clock, embedder):
        yield made


@pytest.fixture
async def app(
    fresh_database: str, clock: TravelClock, embedder: SentenceTransformerEmbedder
) -> AsyncIterator[Container]:
    """The whole library on a fresh database and the test's clock (tenant settings are
    read fresh every time, so a test may change them)."""
    settings = Settings.model_validate(
        {"database_url": fresh_database, "session": {"tenant_cache_s": 0}}
    )
    container = await build_container(settings, clock=clock, embedder=embedder)
    yield container
    await container.close()
