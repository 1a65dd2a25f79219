"""The export over HTTP: complete only with its end line (whose counts match the rows), a
missing encryption key refused before the first byte, and a failure midway visible to any
client (an error line, then a dropped connection, never a clean end)."""

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from memory.core.domain import Scope
from memory.core.settings import Settings
from memory.infra.rls import owner_transaction
from service.api import create_app
from service.client import ApiError, MemstrataClient
from service.container import Container, build_container
from tests.api_harness import problem_of
from tests.conftest import TravelClock
from tests.test_limits import served

ANA = Scope("local", "ana")  # the tenant of requests when auth is off
EXPORT = "/v1/users/ana/export"


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


async def sealed_service(url: str, clock: TravelClock, keys: dict[str, str]) -> Container:
    settings = Settings.model_validate(
        {
            "database_url": url,
            "encryption": {"keys": keys},
            "api": {"auth": False},
            "reflection": {"extraction": "rules"},
        }
    )
    return await build_container(settings, clock=clock)


@pytest.fixture
async def k1_service(
    fresh_database: str, clock: TravelClock
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    """A service sealing with key k1, with two sessions of ana (three messages)."""
    container = await sealed_service(fresh_database, clock, {"k1": new_key()})
    for sid, texts in ((uuid.uuid4(), ["one", "two"]), (uuid.uuid4(), ["three"])):
        for content in texts:
            await container.sessions.append(ANA, sid, "user", content)
            clock.advance(seconds=1)
    app = create_app(container=container)
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        ):
            yield container, client
    finally:
        await container.close()


def rows_of(body: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.splitlines()]


async def test_an_export_ends_with_a_line_counting_its_rows(
    k1_service: tuple[Container, httpx.AsyncClient],
) -> None:
    _, client = k1_service
    response = await client.get(EXPORT)
    assert response.status_code == 200
    rows = rows_of(response.text)
    *data, end = rows
    assert end["tier"] == "end"
    counted: dict[str, int] = {}
    for row in data:
        counted[str(row["tier"])] = counted.get(str(row["tier"]), 0) + 1
    assert end["rows"] == {
        "user": 1,
        "session": 2,
        "message": 3,
        "fact": 0,
        "knowledge": 0,
        "summary": 0,
        "journal": 0,
    }
    assert {k: v for k, v in end["rows"].items() if v} == counted
    assert [r["content"] for r in data if r["tier"] == "message"] == ["one", "two", "three"]


async def test_an_export_of_nobody_is_just_the_end_line(
    k1_service: tuple[Container, httpx.AsyncClient],
) -> None:
    _, client = k1_service
    rows = rows_of((await client.get("/v1/users/nobody/export")).text)
    assert rows == [{"tier": "end", "rows": dict.fromkeys(rows[0]["rows"], 0)}]


async def test_a_missing_key_is_a_503_before_the_first_byte(
    fresh_database: str, clock: TravelClock
) -> None:
    first = await sealed_service(fresh_database, clock, {"k1": new_key()})
    await first.sessions.append(ANA, uuid.uuid4(), "user", "sealed with k1")
    await first.close()
    without = await sealed_service(fresh_database, clock, {"k9": new_key()})
    app = create_app(container=without)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
        ):
            response = await c.get(EXPORT)
        body = problem_of(response, 503)
        assert body["code"] == "key_missing" and "'k1'" in str(body["detail"])
        assert "tier" not in response.text
    finally:
        await without.close()


async def test_a_row_failing_midway_ends_the_export_with_an_error_and_no_end_line(
    k1_service: tuple[Container, httpx.AsyncClient],
) -> None:
    container, _ = k1_service
    async with owner_transaction(container.database.engine) as conn:
        # The last message's sealed content, swapped for the first's: it no longer opens.
        await conn.execute(
            text(
                "UPDATE messages SET content = (SELECT content FROM messages ORDER BY "
                "created_at LIMIT 1) WHERE id = (SELECT id FROM messages ORDER BY "
                "created_at DESC LIMIT 1)"
            )
        )
    lines: list[str] = []
    async with served(create_app(container=container)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            with pytest.raises(httpx.RemoteProtocolError):  # the chunked body never ends
                async with client.stream("GET", EXPORT) as response:
                    assert response.status_code == 200
                    async for line in response.aiter_lines():
                        lines.append(line)
        remote = MemstrataClient(url, "unused")  # auth is off
        with pytest.raises(ApiError) as failed:
            async for _ in remote.export("ana"):
                pass
        await remote.close()
    rows = rows_of("\n".join(lines))
    assert [r["tier"] for r in rows] == [
        "user",
        "session",
        "session",
        "message",
        "message",
        "error",
    ]
    assert rows[-1]["code"] == "corrupt_state" and rows[-1]["detail"]
    assert failed.value.code == "corrupt_state"
