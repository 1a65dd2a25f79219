"""The hostile-tenant suite: real `memstrata serve` and `memstrata worker` processes on a
real Postgres (and a real Redis where the item needs one), driven the way a hostile tenant
or a failure would drive them."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.infra.database import make_engine
from memory.infra.rls import owner_transaction
from tests.services import Service, new_tenant

# A Redis DB index of this suite's own (the unit tests use 9).
REDIS_URL = "redis://127.0.0.1:6379/11"


@dataclass
class Running:
    """A started service, its tenants' keys and an owner-level view of its database."""

    service: Service
    keys: dict[str, str]
    engine: AsyncEngine

    def client(self, tenant: str = "acme", timeout: float = 30.0) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.keys[tenant]}"}
        return httpx.AsyncClient(base_url=self.service.url, headers=headers, timeout=timeout)

    async def rows(self, sql: str, **params: object) -> list[object]:
        async with owner_transaction(self.engine) as conn:
            return list((await conn.execute(text(sql), params)).all())


Start = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start(fresh_database: str, tmp_path: Path) -> AsyncIterator[Start]:
    """Starts `memstrata serve` on a fresh database with extra settings (environment
    variables), creates the tenants named, and stops everything afterwards."""
    started: list[Service] = []
    engines: list[AsyncEngine] = []

    async def run(tenants: tuple[str, ...] = ("acme", "globex"), **env: str) -> Running:
        service = Service(fresh_database, tmp_path, env)
        started.append(service)
        service.start()
        await service.ready()
        keys = {tenant: await new_tenant(service.url, tenant) for tenant in tenants}
        engine = make_engine(fresh_database, 2)
        engines.append(engine)
        return Running(service, keys, engine)

    yield run
    for service in started:
        service.stop()
    for engine in engines:
        await engine.dispose()


def session() -> str:
    return str(uuid.uuid4())
