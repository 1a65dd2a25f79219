"""A forget is final: a worker pass that is extracting the user when the forget comes writes
nothing afterwards (no facts, no user row, no ledger row), and reads racing the forget do
not put the user's hot state back into Redis. Real serve, real worker process."""

import asyncio
import json

import redis.asyncio as aioredis

from tests.hostile.conftest import REDIS_URL, Running, Start, session
from tests.openai_standin import Reply, StandIn, chat, serve

USER_TABLES = (
    "users",
    "sessions",
    "messages",
    "facts",
    "fact_sources",
    "knowledge",
    "knowledge_sources",
    "session_summaries",
    "journal_entries",
    "session_cache",
    "runs",
)


async def leftovers(running: Running, user: str) -> dict[str, int]:
    counts = {}
    for table in USER_TABLES:
        column = "id" if table == "users" else "user_id"
        rows = await running.rows(
            f"SELECT count(*) FROM {table} WHERE tenant_id = 'acme' AND {column} = :u", u=user
        )
        counts[table] = rows[0][0]  # type: ignore[index]
    return {table: n for table, n in counts.items() if n}


def slow_facts(batches: int) -> list[Reply]:
    """One extraction answer per batch, each taking a while, each citing every message."""
    replies: list[Reply] = []
    for batch in range(batches):
        facts = [
            {
                "kind": "event",
                "text": f"Did thing {batch}-{n}",
                "importance": 0.5,
                "confidence": 0.9,
                "source_seqs": list(range(1, 401)),
            }
            for n in range(3)
        ]
        reply = chat(json.dumps({"facts": facts}))
        reply.delay_s = 1.5
        replies.append(reply)
    return replies


async def test_a_forget_during_an_extraction_pass_is_final(start: Start) -> None:
    running = await start()
    async with running.client() as c:
        sid = session()
        for n in range(200):
            sent = await c.post(
                f"/v1/users/ana/sessions/{sid}/messages",
                json={"role": "user", "content": f"Message number {n} about my week."},
            )
            assert sent.status_code == 201
        with serve(StandIn(script=slow_facts(5))) as standin:
            worker = asyncio.create_task(
                running.service.worker_once(
                    timeout_s=240,
                    MEMSTRATA_LLM__BASE_URL=standin.base_url,
                    MEMSTRATA_LLM__MODEL="stand-in",
                    MEMSTRATA_REFLECTION__EXTRACTION="llm",
                    MEMSTRATA_REFLECTION__EXTRACT_IDLE_S="0",
                )
            )
            for _ in range(600):  # until the first batch's facts are in
                rows = await running.rows("SELECT count(*) FROM facts WHERE user_id = 'ana'")
                if rows[0][0]:  # type: ignore[index]
                    break
                assert not worker.done(), worker.exception()
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the worker never wrote a fact")
            forgotten = await c.delete("/v1/users/ana")
            assert forgotten.status_code == 204
            output = await worker
        assert "forgotten" in output, "the pass noticed the forget and stopped"
        assert await leftovers(running, "ana") == {}
        assert (await c.get("/v1/users/ana/facts")).json() == []
        export = (await c.get("/v1/users/ana/export")).text.strip().splitlines()
        assert [json.loads(line)["tier"] for line in export] == ["end"]


async def test_reads_racing_a_forget_do_not_put_the_state_back(start: Start) -> None:
    redis = aioredis.Redis.from_url(REDIS_URL)
    await redis.flushdb()
    running = await start(MEMSTRATA_REDIS_URL=REDIS_URL)
    users = [f"u{n}" for n in range(15)]
    async with running.client() as c:
        for user in users:
            sent = await c.post(
                f"/v1/users/{user}/sessions/{session()}/messages",
                json={"role": "user", "content": f"I am {user} and this is private."},
            )
            assert sent.status_code == 201
        sessions = {
            user: (await c.get(f"/v1/users/{user}/sessions")).json()[0]["id"] for user in users
        }
        for user, sid in sessions.items():
            # A cold cache: every read rebuilds from Postgres and writes the state back.
            async for key in redis.scan_iter(match=f"ms:v1:{{acme:{user}}}:session:*"):
                await redis.delete(key)
            reads = [c.get(f"/v1/users/{user}/sessions/{sid}") for _ in range(8)]
            answers = await asyncio.gather(*reads[:4], c.delete(f"/v1/users/{user}"), *reads[4:])
            assert all(a.status_code in (200, 204, 404) for a in answers), answers
        await asyncio.sleep(0.5)  # anything still in flight has landed
        for user in users:
            left = [k async for k in redis.scan_iter(match=f"ms:v1:{{acme:{user}}}:session:*")]
            assert left == [], f"{user}'s state is back in Redis"
            assert await leftovers(running, user) == {}
    await redis.flushdb()
    await redis.aclose()
