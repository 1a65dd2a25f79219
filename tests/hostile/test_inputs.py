"""Bad input never answers 500 and never breaks the connection it came on: NUL characters in
fields stored as jsonb, dates outside what Postgres stores, a naive `now`; bodies over the
limit are refused however they are sent; an export that cannot be read completely is a 503
before its first byte; the inspector cannot be framed; a key's bucket does not depend on
how its header is spelled. Real serve, one keep-alive connection per client."""

import base64
import os
from collections.abc import AsyncIterator

import httpx

from tests.hostile.conftest import Start, session
from tests.services import ADMIN

LIMIT = 1_000_000


async def test_bad_values_are_4xx_and_the_connection_stays_usable(start: Start) -> None:
    running = await start()
    sid = session()
    async with running.client() as c:
        sent = await c.post(
            f"/v1/users/ana/sessions/{sid}/messages", json={"role": "user", "content": "hi"}
        )
        version = sent.json()["session_version"]
        patch = f"/v1/users/ana/sessions/{sid}"
        bad = [
            c.patch(patch, json={"topic": "a\u0000b"}, headers={"If-Match": str(version)}),
            c.patch(patch, json={"entities": ["x\u0000"]}, headers={"If-Match": str(version)}),
            c.patch(
                patch, json={"open_questions": ["\u0000?"]}, headers={"If-Match": str(version)}
            ),
            c.patch(
                patch,
                json={"flow": {"name": "f", "step": "s", "variables": {"k": "v\u0000"}}},
                headers={"If-Match": str(version)},
            ),
            c.put("/v1/tenant/settings", json={"reflection": {"model": "gpt\u0000x"}}),
            c.post(
                "/v1/users/ana/recall",
                json={"query": "hi", "since": "0001-01-01T00:00:00+14:00"},
            ),
            c.get("/v1/users/ana/facts", params={"as_of": "0001-01-01T00:00:00+14:00"}),
            c.post("/v1/users/ana/resume", json={"now": "2026-01-01T10:00:00"}),
            c.post(
                f"/v1/users/ana/sessions/{sid}/messages",
                json={"role": "user", "content": "x", "at": "9999-12-31T23:59:59-14:00"},
            ),
        ]
        for request in bad:
            answer = await request
            assert 400 <= answer.status_code < 500, (answer.request.url, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            again = await c.get(f"/v1/users/ana/sessions/{sid}")  # the same connection
            assert again.status_code == 200
    async with httpx.AsyncClient(base_url=running.service.url, timeout=30) as admin:
        named = await admin.post(
            "/v1/tenants",
            json={"id": "acme", "key_name": "bad\u0000name"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert 400 <= named.status_code < 500, named.text


async def test_chunked_bodies_over_the_limit_are_refused(start: Start) -> None:
    running = await start()
    sid = session()

    async def chunks(total: int) -> AsyncIterator[bytes]:
        """A body sent chunked (no Content-Length), `total` bytes of content."""
        yield b'{"role": "user", "content": "'
        for _ in range(total // 65536):
            yield b"a" * 65536
        yield b'"}'

    async with running.client() as c:
        first = await c.post(
            f"/v1/users/ana/sessions/{sid}/messages", json={"role": "user", "content": "hi"}
        )
        too_big = await c.post(
            f"/v1/users/ana/sessions/{sid}/messages",
            content=chunks(30 * LIMIT),
            headers={"content-type": "application/json"},
        )
        assert too_big.status_code == 413
        state = await c.patch(
            f"/v1/users/ana/sessions/{sid}",
            content=chunks(25 * LIMIT),
            headers={"If-Match": str(first.json()["session_version"])},
        )
        assert state.status_code == 413
        stored = (await c.get(f"/v1/users/ana/sessions/{sid}")).json()
        assert len(stored["window"]) == 1 and stored["context"]["topic"] is None


async def test_an_export_that_cannot_be_read_is_a_503_before_any_byte(start: Start) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    sealed = await start(MEMSTRATA_ENCRYPTION__KEYS=f'{{"k1": "{key}"}}')
    async with sealed.client() as c:
        sent = await c.post(
            f"/v1/users/ana/sessions/{session()}/messages",
            json={"role": "user", "content": "sealed words"},
        )
        assert sent.status_code == 201
    sealed.service.stop()
    keys = sealed.keys
    other = base64.b64encode(os.urandom(32)).decode()
    restarted = await start(MEMSTRATA_ENCRYPTION__KEYS=f'{{"k2": "{other}"}}', tenants=())
    restarted.keys.update(keys)
    async with restarted.client() as c:
        exported = await c.get("/v1/users/ana/export")
        assert exported.status_code == 503, exported.text
        assert exported.json()["code"] == "key_missing"


async def test_the_inspector_cannot_be_framed_and_keys_share_one_bucket(start: Start) -> None:
    running = await start(MEMSTRATA_API__RATE_BURST="5", MEMSTRATA_API__RATE_PER_S="0.01")
    async with httpx.AsyncClient(base_url=running.service.url, timeout=30) as c:
        page = await c.get("/ui/")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        key = running.keys["acme"]
        spellings = [f"Bearer {key}", f"bearer {key}", f"BEARER  {key}", f"bEaReR\t{key}"]
        codes = [
            (await c.get("/v1/users/ana/facts", headers={"Authorization": spelling})).status_code
            for spelling in spellings * 2
        ]
        assert codes[:4] == [200, 200, 200, 200] and 429 in codes[4:], codes
        anonymous = [(await c.get("/v1/users/ana/facts")).status_code for _ in range(8)]
        assert 429 in anonymous, anonymous
