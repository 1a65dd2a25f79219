"""The REST API through httpx's ASGI transport, on a container built from test settings."""

import subprocess
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from memory.errors import InvalidInput
from memory.settings import Settings
from service.api import create_app
from service.container import Container, build_container
from tests.conftest import TravelClock


@pytest.fixture
async def container(fresh_database: str, clock: TravelClock) -> AsyncIterator[Container]:
    built = await build_container(Settings(database_url=fresh_database), clock=clock)
    yield built
    await built.close()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(container=container)

    @app.get("/boom")
    async def boom() -> None:
        raise InvalidInput("content", "must not be empty")

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        yield c


async def test_health_reports_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["embedded_database"] is False
    assert (body["session_store"], body["redis"]) == ("postgres", None)


async def test_health_reports_a_dead_redis_as_degraded(
    fresh_database: str, clock: TravelClock, throwaway_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, server = throwaway_redis
    settings = Settings(database_url=fresh_database, redis_url=url)
    built = await build_container(settings, clock=clock)
    app = create_app(container=built)
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        ):
            assert (await client.get("/health")).json()["redis"] == "ok"
            server.kill()
            server.wait()
            body = (await client.get("/health")).json()
        assert (body["status"], body["session_store"], body["redis"]) == (
            "degraded",
            "redis",
            "unavailable",
        )
    finally:
        await built.close()


async def test_domain_errors_become_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "content: must not be empty"


def test_app_builds_without_touching_the_database() -> None:
    assert isinstance(create_app(Settings(database_url="postgresql://nowhere/x")), FastAPI)
