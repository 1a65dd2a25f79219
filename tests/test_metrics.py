"""/metrics: request latency by the route that matched, and the gauges read from Postgres at
most once per `metrics_refresh_s`, however many scrapes arrive at once."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from memory.core.domain import Scope
from service.api import create_app
from service.metrics import Metrics
from tests.api_harness import Api
from tests.conftest import TravelClock


@pytest.fixture
async def scraped(api: Api) -> AsyncIterator[tuple[Metrics, httpx.AsyncClient]]:
    """A fresh app on the test container, so that its metrics start at nothing."""
    app = create_app(container=api.container)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield app.state.metrics, client


def unembedded(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("memstrata_backlog", {"queue": "embedding"})


async def test_concurrent_scrapes_read_the_database_once_per_window(
    api: Api, clock: TravelClock, scraped: tuple[Metrics, httpx.AsyncClient]
) -> None:
    metrics, client = scraped
    answers = await asyncio.gather(*(client.get("/metrics") for _ in range(25)))
    assert {a.status_code for a in answers} == {200}
    assert all("memstrata_backlog" in a.text for a in answers)
    assert metrics.ledger.refreshes == 1
    assert unembedded(metrics) == 0

    await api.container.sessions.append(Scope("acme", "alice"), uuid.uuid4(), "user", "hi")
    clock.advance(seconds=14)
    await client.get("/metrics")
    assert (metrics.ledger.refreshes, unembedded(metrics)) == (1, 0), "within the window"

    clock.advance(seconds=1)
    await asyncio.gather(*(client.get("/metrics") for _ in range(5)))
    assert (metrics.ledger.refreshes, unembedded(metrics)) == (2, 1), "after the window"


async def test_requests_are_timed_by_the_route_that_matched(
    api: Api, scraped: tuple[Metrics, httpx.AsyncClient]
) -> None:
    metrics, client = scraped
    assert (await client.get("/v1/users/alice/facts", headers=api.as_a())).status_code == 200
    assert (await client.get("/nowhere")).status_code == 404
    count = metrics.registry.get_sample_value
    route = {"route": "/v1/users/{user_id}/facts", "method": "GET", "status": "200"}
    assert count("memstrata_request_seconds_count", route) == 1
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert count("memstrata_request_seconds_count", unmatched) == 1
