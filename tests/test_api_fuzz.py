"""Hostile and random input over the API (hypothesis): whatever comes in — odd ids, odd
JSON, odd query values — the answer is a 2xx or a 4xx problem+json, never a 5xx."""

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory.core.settings import Settings
from service.api import create_app
from service.container import build_container

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
SEGMENT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="/?#%"),
    min_size=1,
    max_size=40,
) | st.sampled_from(["alice", str(uuid.uuid4()), "not-a-uuid", "' OR 1=1 --", "..", "\x00"])
MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "robot", ""]) | st.text(max_size=5),
        "content": st.text(max_size=200) | st.sampled_from(["", " ", "\x00", "x" * 40_000]),
    },
    optional={"device_id": st.text(max_size=30), "takeover": JSON, "at": st.text(max_size=40)},
)


class Fuzz:
    client: httpx.AsyncClient
    headers: dict[str, str]


@pytest.fixture
async def fuzz(fresh_database: str) -> AsyncIterator[Fuzz]:
    container = await build_container(
        Settings.model_validate(
            {
                "database_url": fresh_database,
                "api": {"rate_burst": 100_000},
            }
        )
    )
    app = create_app(container=container)
    state = Fuzz()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        state.client = c
        state.headers = {"Authorization": f"Bearer {(await container.api_keys.create('acme')).key}"}
        yield state
    await container.close()


def ok(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", response.text


FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(user=SEGMENT, session=SEGMENT, body=MESSAGE | JSON)
async def test_append_never_fails_with_a_5xx(
    fuzz: Fuzz, user: str, session: str, body: Any
) -> None:
    path = f"/v1/users/{quote(user, safe='')}/sessions/{quote(session, safe='')}/messages"
    ok(await fuzz.client.post(path, json=body, headers=fuzz.headers))


@FUZZ
@given(
    user=SEGMENT,
    limit=st.integers(-(10**12), 10**12) | st.text(max_size=8),
    as_of=st.text(max_size=30),
    kind=st.text(max_size=20),
)
async def test_listing_never_fails_with_a_5xx(
    fuzz: Fuzz, user: str, limit: Any, as_of: str, kind: str
) -> None:
    params = {"limit": str(limit), "as_of": as_of, "kind": kind}
    for tier in ("facts", "knowledge", "summaries", "journal/versions"):
        path = f"/v1/users/{quote(user, safe='')}/{tier}"
        ok(await fuzz.client.get(path, params=params, headers=fuzz.headers))


@FUZZ
@given(
    user=SEGMENT,
    body=JSON
    | st.fixed_dictionaries(
        {"query": st.text(max_size=300), "k": st.integers(-5, 10**9)},
        optional={
            "tiers": JSON,
            "kinds": JSON,
            "since": st.text(max_size=30),
            "as_of": st.text(max_size=30),
        },
    ),
)
async def test_recall_and_resume_never_fail_with_a_5xx(fuzz: Fuzz, user: str, body: Any) -> None:
    base = f"/v1/users/{quote(user, safe='')}"
    ok(await fuzz.client.post(f"{base}/recall", json=body, headers=fuzz.headers))
    ok(await fuzz.client.post(f"{base}/resume", json=body, headers=fuzz.headers))


@FUZZ
@given(session=SEGMENT, if_match=st.text(max_size=12), body=JSON)
async def test_session_updates_never_fail_with_a_5xx(
    fuzz: Fuzz, session: str, if_match: str, body: Any
) -> None:
    headers = fuzz.headers | {"If-Match": if_match.encode("ascii", "ignore").decode()}
    ok(
        await fuzz.client.patch(
            f"/v1/users/alice/sessions/{quote(session, safe='')}", json=body, headers=headers
        )
    )


MEMORY = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["profile", "plan", "observation", "mood", ""])
        | st.text(max_size=8),
        "text": st.text(max_size=200) | st.sampled_from(["", " ", "\x00", "x" * 40_000]),
    },
    optional={"importance": JSON, "pinned": JSON},
)


@FUZZ
@given(user=SEGMENT, fact=SEGMENT, body=MEMORY | JSON)
async def test_single_memories_never_fail_with_a_5xx(
    fuzz: Fuzz, user: str, fact: str, body: Any
) -> None:
    base = f"/v1/users/{quote(user, safe='')}"
    one = f"{base}/facts/{quote(fact, safe='')}"
    ok(await fuzz.client.post(f"{base}/facts", json=body, headers=fuzz.headers))
    ok(await fuzz.client.post(f"{one}/correction", json=body, headers=fuzz.headers))
    ok(await fuzz.client.put(f"{one}/pin", headers=fuzz.headers))
    ok(await fuzz.client.delete(f"{one}/pin", headers=fuzz.headers))
    ok(await fuzz.client.delete(one, headers=fuzz.headers))
    ok(await fuzz.client.delete(f"{base}/knowledge/{quote(fact, safe='')}", headers=fuzz.headers))


@FUZZ
@given(key=SEGMENT, body=JSON)
async def test_key_changes_never_fail_with_a_5xx(fuzz: Fuzz, key: str, body: Any) -> None:
    path = f"/v1/tenant/keys/{quote(key, safe='')}"
    ok(await fuzz.client.patch(path, json=body, headers=fuzz.headers))
    ok(await fuzz.client.delete(path, headers=fuzz.headers))
    made = await fuzz.client.post("/v1/tenant/keys", json=body, headers=fuzz.headers)
    ok(made)
