"""The Python client over HTTP (through the ASGI app) and in-process give the same answers."""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from memory.embedder import SentenceTransformerEmbedder
from memory.settings import Settings
from service.api import create_app
from service.client import ApiError, LocalClient, MemstrataClient
from service.container import Container, build_container
from tests.conftest import TravelClock


@pytest.fixture
async def container(
    fresh_database: str, clock: TravelClock, embedder: SentenceTransformerEmbedder
) -> AsyncIterator[Container]:
    built = await build_container(Settings(database_url=fresh_database), clock=clock)
    built.recall._embedder = embedder
    yield built
    await built.close()


async def test_http_and_local_clients_agree(container: Container) -> None:
    app = create_app(container=container)
    key = (await container.api_keys.create("acme")).key
    remote = MemstrataClient("http://t", key, transport=httpx.ASGITransport(app=app))
    local = LocalClient(container, "acme")
    sid = str(uuid.uuid4())
    async with app.router.lifespan_context(app):
        sent = await remote.append(
            "alice", sid, "user", "My sister Ana lives in Rome.", idempotency_key="k1"
        )
        again = await local.append(
            "alice", sid, "user", "My sister Ana lives in Rome.", idempotency_key="k1"
        )
        assert again.replayed and again.message.id == sent.message.id
        state = await remote.session("alice", sid)
        updated = await remote.update_session("alice", sid, state["version"], topic="family")
        assert updated["context"]["topic"] == "family"
        with pytest.raises(ApiError) as stale:
            await remote.update_session("alice", sid, state["version"], topic="x")
        assert (stale.value.status, stale.value.code) == (409, "conflict")
        remote_hits = await remote.recall("alice", "Rome", k=3)
        local_hits = await local.recall("alice", "Rome", k=3)
        assert [h.id for h in remote_hits] == [h.id for h in local_hits]
        assert (await remote.resume("alice"))["mode"] == (await local.resume("alice"))["mode"]
        assert [row async for row in remote.export("alice")] == [
            row async for row in local.export("alice")
        ]
        await remote.forget("alice")
        assert [row["tier"] async for row in local.export("alice")] == ["end"]
        await remote.close()
