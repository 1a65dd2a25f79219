"""Sessions under a hostile or unlucky client, against a real serve: a takeover that sticks,
hard expiry enforced on write, a corrupt durable session row that ends the session instead
of answering 500, session ids that belong to their user, and a cache entry that inflates."""

from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
import zstandard

from tests.hostile.conftest import REDIS_URL, Start, session


def message(content: str, **extra: object) -> dict[str, object]:
    return {"role": "user", "content": content, **extra}


async def test_a_takeover_into_a_new_session_sticks(start: Start) -> None:
    running = await start()
    async with running.client() as c:
        a_session, b_session = session(), session()
        url = "/v1/users/ana/sessions/{}/messages"
        first = await c.post(url.format(a_session), json=message("from A", device_id="A"))
        assert first.status_code == 201
        refused = await c.post(url.format(b_session), json=message("from B", device_id="B"))
        assert refused.status_code == 409 and refused.json()["code"] == "other_device_active"
        taken = await c.post(
            url.format(b_session), json=message("B takes over", device_id="B", takeover=True)
        )
        assert taken.status_code == 201
        # B now holds the user: its next turns need no flag ...
        for n in range(3):
            again = await c.post(url.format(b_session), json=message(f"B {n}", device_id="B"))
            assert again.status_code == 201, again.text
        # ... and A is the one told that another device is active (B, in B's session).
        back = await c.post(url.format(a_session), json=message("A again", device_id="A"))
        assert back.status_code == 409, back.text
        assert b_session in back.json()["detail"] and "'B'" in back.json()["detail"]


async def test_a_session_past_hard_expiry_takes_no_append_before_the_sweep(start: Start) -> None:
    running = await start()
    async with running.client() as c:
        sid = session()
        three_hours_ago = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
        url = f"/v1/users/ana/sessions/{sid}/messages"
        sent = await c.post(url, json=message("an old turn", at=three_hours_ago))
        assert sent.status_code == 201
        assert (await c.get(f"/v1/users/ana/sessions/{sid}")).json()["status"] == "hard_expired"
        late = await c.post(url, json=message("reviving it?"))
        assert late.status_code == 409 and "ended" in late.json()["detail"]
        state = (await c.get(f"/v1/users/ana/sessions/{sid}")).json()
        assert [m["content"] for m in state["window"]] == ["an old turn"]
        assert state["status"] == "hard_expired"
        opened = await c.post(f"/v1/users/ana/sessions/{sid}/open", json={"device_id": "x"})
        assert opened.status_code == 409


async def test_a_corrupt_session_row_ends_the_session_and_the_user_goes_on(start: Start) -> None:
    running = await start()
    sid = session()
    async with running.client() as c:
        url = f"/v1/users/ana/sessions/{sid}/messages"
        assert (await c.post(url, json=message("first"))).status_code == 201
        # The durable context is garbage (and the cached copy is stale).
        await running.rows(
            'UPDATE sessions SET context = \'{"flow": 42, "topic": [1]}\'::jsonb, '
            "version = version + 1 WHERE user_id = 'ana' RETURNING 1"
        )
        appended = await c.post(url, json=message("second"))
        assert appended.status_code == 201, appended.text
        body = appended.json()
        assert body["session_status"] == "hard_expired"
        assert body["ended_reason"] == "corrupt_state"
        read = await c.get(f"/v1/users/ana/sessions/{sid}")
        assert read.status_code == 200 and read.json()["ended_reason"] == "corrupt_state"
        assert [m["content"] for m in read.json()["window"]] == ["first", "second"]
        resumed = await c.post("/v1/users/ana/resume", json={"message": "hello again"})
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["session_id"] != sid, "the user continues in a new session"
        assert (await c.post(url, json=message("third"))).status_code == 409
        fresh = await c.post(
            f"/v1/users/ana/sessions/{resumed.json()['session_id']}/messages",
            json=message("in the new session"),
        )
        assert fresh.status_code == 201
    corrupt = await running.rows(
        "SELECT ended_reason, context FROM sessions WHERE user_id = 'ana' AND id = :sid",
        sid=sid,
    )
    assert corrupt == [("corrupt_state", {})]
    assert "ended: its context does not decode" in running.service.log()


async def test_session_ids_belong_to_their_user(start: Start) -> None:
    """One tenant cannot squat an id another tenant (or user) will use, nor learn it
    exists: the same id is a different session for each."""
    running = await start()
    sid = session()
    async with running.client("acme") as acme, running.client("globex") as globex:
        squat = await acme.post(f"/v1/users/ana/sessions/{sid}/messages", json=message("squat"))
        assert squat.status_code == 201
        theirs = await globex.post(f"/v1/users/ana/sessions/{sid}/messages", json=message("mine"))
        assert theirs.status_code == 201 and theirs.json()["message"]["seq"] == 1
        same_tenant = await acme.post(
            f"/v1/users/bob/sessions/{sid}/messages", json=message("bob's")
        )
        assert same_tenant.status_code == 201 and same_tenant.json()["message"]["seq"] == 1
        for client, user, expected in (
            (acme, "ana", ["squat"]),
            (globex, "ana", ["mine"]),
            (acme, "bob", ["bob's"]),
        ):
            state = (await client.get(f"/v1/users/{user}/sessions/{sid}")).json()
            assert [m["content"] for m in state["window"]] == expected


async def test_a_cache_entry_that_inflates_is_rebuilt_not_inflated(start: Start) -> None:
    redis = aioredis.Redis.from_url(REDIS_URL)
    await redis.flushdb()
    running = await start(MEMSTRATA_REDIS_URL=REDIS_URL)
    sid = session()
    async with running.client() as c:
        sent = await c.post(f"/v1/users/ana/sessions/{sid}/messages", json=message("hello"))
        assert sent.status_code == 201
        keys = [k async for k in redis.scan_iter(match=f"*{sid}*")]
        assert len(keys) == 1
        # 400 MB of zeros in a few hundred bytes, under the entry's current version.
        compressor = zstandard.ZstdCompressor(level=19)
        chunks = compressor.compressobj()
        bomb = b"".join(chunks.compress(bytes(1 << 20)) for _ in range(400)) + chunks.flush()
        version = sent.json()["session_version"]
        await redis.hset(keys[0], mapping={"v": str(version), "d": b"Z" + bomb})
        read = await c.get(f"/v1/users/ana/sessions/{sid}")
        assert read.status_code == 200
        assert [m["content"] for m in read.json()["window"]] == ["hello"]
    await redis.flushdb()
    await redis.aclose()
