"""The REST API through httpx's ASGI transport, on a container built from test settings."""

import re
import subprocess
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from memory.core.errors import InvalidInput
from memory.core.settings import Settings
from service.api import UI_DIR, create_app
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


async def test_an_unexpected_error_is_a_logged_500_problem(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(container=container)

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        response = await client.get("/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["code"] == "internal_error"
    assert "a bug" not in response.text, "the answer does not leak the error"
    logged = [r.exc_info for r in caplog.records if "/crash" in r.getMessage()]
    assert logged and logged[0] and isinstance(logged[0][1], RuntimeError), "with its traceback"


async def test_the_inspector_is_served_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/ui/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    script = await client.get("/ui/inspector.js")
    assert script.headers["content-security-policy"] == policy
    for response in (page, script, await client.get("/healthz"), await client.get("/v1/nowhere")):
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in (await client.get("/healthz")).headers


def test_the_inspector_needs_nothing_its_policy_forbids() -> None:
    page = (UI_DIR / "index.html").read_text()
    assert "<style" not in page and " style=" not in page
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.DOTALL)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+\s*=", page), "no inline event handlers"
    code = (UI_DIR / "inspector.js").read_text()
    for forbidden in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        '"style"',
        "eval(",
        "Function(",
    ):
        assert forbidden not in code, forbidden
