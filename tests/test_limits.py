"""The request limits: the body limit on the bytes actually read (chunked bodies over a real
socket), rate limits per normalised API key, per address without one and for refused
credentials, health probes exempt, and a bucket table that stays bounded."""

import asyncio
import contextlib
import functools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from memory.infra.embedder import SentenceTransformerEmbedder
from service.api import create_app
from service.limits import TokenBucket
from tests.api_harness import Api, make_api, problem_of
from tests.conftest import TravelClock
from tests.services import free_port

MB = 1_000_000
FACTS = "/v1/users/alice/facts"


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """`app` behind a real uvicorn on a free loopback port, in this event loop; its URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                assert not task.done(), "uvicorn stopped while starting"
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def chunked(*parts: bytes, filler: int = 0, piece: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A body without Content-Length (httpx sends it chunked): `parts[0]`, `filler` bytes of
    "x", then the other parts."""
    yield parts[0]
    for start in range(0, filler, piece):
        yield b"x" * min(piece, filler - start)
    for part in parts[1:]:
        yield part


def bucket_at(now: list[float], rate_per_s: float, burst: int, max_keys: int) -> TokenBucket:
    return TokenBucket(rate_per_s, burst, max_keys, clock=lambda: now[0])


def test_a_full_bucket_table_drops_full_buckets_before_a_throttled_one() -> None:
    now = [0.0]
    bucket = bucket_at(now, rate_per_s=1, burst=2, max_keys=100)
    for n in range(99):
        bucket.take(f"idle-{n}")
    now[0] = 10.0  # every idle bucket is full again
    assert bucket.take("hot") == 0 and bucket.take("hot") == 0
    assert bucket.take("new") == 0  # the 101st bucket: the table is pruned
    assert len(bucket) <= 75
    assert bucket.wait("hot") > 0, "the throttled key kept its state"


def test_the_bucket_table_stays_bounded_when_no_bucket_is_full() -> None:
    now = [0.0]
    bucket = bucket_at(now, rate_per_s=0.001, burst=1, max_keys=100)
    for n in range(10_000):
        bucket.take(f"key-{n}")
        assert len(bucket) <= 100


@dataclass
class Strict:
    """The test service with small limits (three requests per key or address, three refused
    credentials per address), and a client at each of two addresses."""

    api: Api
    near: httpx.AsyncClient
    far: httpx.AsyncClient


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40_000))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


@pytest.fixture
async def strict(
    fresh_database: str, clock: TravelClock, embedder: SentenceTransformerEmbedder
) -> AsyncIterator[Strict]:
    settings = {
        "rate_burst": 3,
        "rate_per_s": 0.001,
        "auth_failure_burst": 3,
        "auth_failure_rate_per_s": 0.001,
    }
    async for made in make_api(fresh_database, clock, embedder, **settings):
        app = create_app(container=made.container)
        at = functools.partial(client_at, app)
        async with app.router.lifespan_context(app), at("10.0.0.1") as near, at("10.0.0.2") as far:
            yield Strict(made, near, far)


async def test_one_key_spelled_differently_shares_one_bucket(strict: Strict) -> None:
    key = strict.api.key_a
    for authorization in (f"Bearer {key}", f"bearer {key}", f"BEARER  {key}  "):
        response = await strict.near.get(FACTS, headers={"Authorization": authorization})
        assert response.status_code == 200, response.text
    limited = await strict.far.get(FACTS, headers={"Authorization": f"bEaReR {key}"})
    body = problem_of(limited, 429)
    assert body["code"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
    other = await strict.near.get(FACTS, headers=strict.api.as_b())
    assert other.status_code == 200, "another key has its own bucket"


async def test_requests_without_a_key_are_limited_per_address(strict: Strict) -> None:
    for _ in range(3):
        assert (await strict.near.get("/ui/")).status_code == 200
    problem_of(await strict.near.get("/ui/inspector.js"), 429)
    assert (await strict.far.get("/ui/")).status_code == 200, "another address is not limited"


async def test_refused_keys_stop_an_address_before_any_key_lookup(strict: Strict) -> None:
    for _ in range(3):
        wrong = {"Authorization": f"Bearer ms_{uuid.uuid4().hex}"}
        problem_of(await strict.near.get(FACTS, headers=wrong), 401)
    flood = {"Authorization": f"Bearer ms_{uuid.uuid4().hex}"}
    problem_of(await strict.near.get(FACTS, headers=flood), 429)
    # The whole address waits, a valid key included: its requests never reach the lookup.
    problem_of(await strict.near.get(FACTS, headers=strict.api.as_a()), 429)
    problem_of(await strict.far.get(FACTS, headers=flood), 401)
    assert (await strict.far.get(FACTS, headers=strict.api.as_a())).status_code == 200


async def test_health_probes_are_never_rate_limited(strict: Strict) -> None:
    for _ in range(3):
        await strict.near.get(FACTS, headers={"Authorization": "Bearer nope"})
    problem_of(await strict.near.get("/ui/"), 429)
    for _ in range(10):
        for path in ("/healthz", "/readyz", "/health"):
            assert (await strict.near.get(path)).status_code == 200, path


@pytest.fixture
async def live(api: Api) -> AsyncIterator[tuple[Api, str]]:
    """The test service behind a real HTTP server: chunked bodies arrive as they would."""
    async with served(create_app(container=api.container)) as url:
        yield api, url


async def test_a_chunked_body_over_the_limit_is_refused(live: tuple[Api, str]) -> None:
    api, url = live
    sid = uuid.uuid4()
    path = f"{url}/v1/users/alice/sessions/{sid}/messages"
    head, tail = b'{"role": "user", "content": "', b'"}'
    headers = {**api.as_a(), "Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=60) as client:
        small = await client.post(path, content=chunked(head, tail, filler=1000), headers=headers)
        assert small.status_code == 201, "a chunked body under the limit is read whole"
        assert small.request.headers["transfer-encoding"] == "chunked"
        huge = await client.post(path, content=chunked(head, tail, filler=30 * MB), headers=headers)
        body = problem_of(huge, 413)
        assert body["code"] == "payload_too_large"
        transcript = await client.get(f"{path}?limit=10", headers=api.as_a())
    assert [m["content"] for m in transcript.json()] == ["x" * 1000]


async def test_a_chunked_session_state_over_the_limit_is_not_stored(
    live: tuple[Api, str],
) -> None:
    api, url = live
    sid = uuid.uuid4()
    session = f"{url}/v1/users/alice/sessions/{sid}"
    async with httpx.AsyncClient(timeout=60) as client:
        sent = await client.post(
            f"{session}/messages", json={"role": "user", "content": "hi"}, headers=api.as_a()
        )
        version = sent.json()["session_version"]
        headers = {**api.as_a(), "If-Match": f'"{version}"', "Content-Type": "application/json"}
        head = b'{"flow": {"name": "booking", "step": "pay", "variables": {"notes": "'
        body = chunked(head, b'"}}}', filler=25 * MB)
        problem_of(await client.patch(session, content=body, headers=headers), 413)
        state = (await client.get(session, headers=api.as_a())).json()
    assert state["version"] == version and len(json.dumps(state)) < MB
