"""The Python client over HTTP (through the ASGI app) and in-process give the same answers."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from memory.core.errors import Conflict, NotFound
from memory.core.settings import Settings
from memory.infra.embedder import SentenceTransformerEmbedder
from service.api import create_app
from service.client import ApiError, MemstrataClient
from service.container import Container, build_container
from service.local_client import LocalClient
from tests.conftest import TravelClock


@pytest.fixture
async def container(
    fresh_database: str, clock: TravelClock, embedder: SentenceTransformerEmbedder
) -> AsyncIterator[Container]:
    built = await build_container(
        Settings(database_url=fresh_database), clock=clock, embedder=embedder
    )
    yield built
    await built.close()


async def test_http_and_local_clients_agree(container: Container, clock: TravelClock) -> None:
    """Every call of the two clients answers with the same model and the same values."""
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
        assert again.replayed and again.message == sent.message
        state = await remote.session("alice", sid)
        assert state == await local.session("alice", sid)
        updated = await remote.update_session("alice", sid, state.version, topic="family")
        assert updated.context.topic == "family"
        assert await local.session("alice", sid) == updated
        with pytest.raises(ApiError) as stale:
            await remote.update_session("alice", sid, state.version, topic="x")
        assert (stale.value.status, stale.value.code) == (409, "conflict")
        with pytest.raises(Conflict):
            await local.update_session("alice", sid, state.version, topic="x")
        locally = await local.update_session("alice", sid, updated.version, topic="kin")
        assert locally == await remote.session("alice", sid)
        remote_hits = await remote.recall("alice", "Rome", k=3)
        assert remote_hits and remote_hits == await local.recall("alice", "Rome", k=3)
        resumed = await remote.resume("alice")
        assert resumed.mode == "full_restore" and resumed == await local.resume("alice")
        assert await remote.journal("alice") is None is await local.journal("alice")
        clock.advance(hours=3)  # the session ends: summarized, journaled
        await container.worker.tick()
        journal = await remote.journal("alice")
        assert journal is not None and journal == await local.journal("alice")
        assert [row async for row in remote.export("alice")] == [
            row async for row in local.export("alice")
        ]
        # Single memories: what one client changes, the other reads the same.
        tea = await remote.remember("alice", "preference", "Prefers tea", pinned=True)
        assert tea in await local.facts("alice", kinds=["preference"])
        fixed = await local.correct("alice", str(tea.id), "Prefers green tea")
        assert await remote.facts("alice", kinds=["preference"]) == [fixed]
        assert (await local.pin("alice", str(fixed.id), False)) == (
            await remote.facts("alice", kinds=["preference"])
        )[0]
        assert await remote.knowledge("alice") == await local.knowledge("alice")
        await remote.delete_fact("alice", str(fixed.id))
        with pytest.raises(ApiError) as gone:
            await remote.delete_fact("alice", str(fixed.id))
        assert (gone.value.status, gone.value.code) == (404, "not_found")
        with pytest.raises(NotFound):
            await local.delete_fact("alice", str(fixed.id))
        await remote.forget("alice")
        assert [row["tier"] async for row in local.export("alice")] == ["end"]
        await remote.close()


_SHAPED = {"$ref", "properties", "items", "anyOf", "allOf", "oneOf"}


async def test_every_operation_publishes_a_typed_answer(container: Container) -> None:
    """`/openapi.json` describes every 2xx answer with a schema (the export streams JSON
    lines, described as such; a forget answers 204 with no body)."""
    app = create_app(container=container)
    spec = app.openapi()
    untyped = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            answers = {c: r for c, r in operation["responses"].items() if c.startswith("2")}
            for code, answer in answers.items():
                if code == "204":
                    continue
                media: list[dict[str, Any]] = list(answer.get("content", {}).values())
                schema: dict[str, Any] = media[0].get("schema", {}) if media else {}
                if not _SHAPED & set(schema):  # {} or a bare object: says nothing
                    untyped.append(f"{method.upper()} {path} {code}")
    assert untyped == []
