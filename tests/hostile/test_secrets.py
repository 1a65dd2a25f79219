"""Encryption on, secrets nowhere in the clear: a user says a national id, an IBAN, a
password and an API key; after the worker has extracted, summarised, journaled and archived
the session, no table (read as the owner, every column as text), no Redis entry and no log
line of the service or the worker holds any of them."""

import base64
import os
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from tests.hostile.conftest import REDIS_URL, Start, session

SECRETS = {
    "national_id": "078-05-1120",
    "iban": "DE89 3704 0044 0532 0130 00",
    "password": "Tr0ub4dor&3xyz",
    "api_key": "sk-proj-4f9Qw2LmZx8Rt6Yv1Nb3Kc7Hd5Jg0Ps",
}
SAID = [
    f"Hi! I'm Rosa. My social security number is {SECRETS['national_id']}, keep it handy.",
    f"My password is {SECRETS['password']} for the clinic portal.",
    f"Please pay the rent from IBAN {SECRETS['iban']} every month.",
    f"I work as a nurse in Porto. Our API key is {SECRETS['api_key']} for the rota app.",
    "I decided to take the night shifts in December.",
]
TABLES = (
    "sessions",
    "messages",
    "facts",
    "knowledge",
    "session_summaries",
    "journal_entries",
    "session_cache",
    "runs",
)


def forms(secret: str) -> set[str]:
    """The secret as written and without its spaces (an IBAN is often written both ways)."""
    return {secret, secret.replace(" ", "")}


async def test_no_derived_tier_log_or_cache_entry_holds_a_secret(start: Start) -> None:
    redis = aioredis.Redis.from_url(REDIS_URL)
    await redis.flushdb()
    key = base64.b64encode(os.urandom(32)).decode()
    running = await start(
        MEMSTRATA_REDIS_URL=REDIS_URL,
        MEMSTRATA_ENCRYPTION__KEYS=f'{{"k1": "{key}"}}',
        MEMSTRATA_LOG_FORMAT="json",
    )
    started = datetime.now(UTC) - timedelta(hours=3)
    async with running.client() as c:
        sid = session()
        for minute, line in enumerate(SAID):
            at = (started + timedelta(minutes=minute)).isoformat()
            for role, content in (("user", line), ("assistant", "Noted.")):
                sent = await c.post(
                    f"/v1/users/rosa/sessions/{sid}/messages",
                    json={"role": role, "content": content, "at": at},
                )
                assert sent.status_code == 201
        await c.get(f"/v1/users/rosa/sessions/{sid}")
        output = await running.service.worker_once(
            MEMSTRATA_REDIS_URL=REDIS_URL, MEMSTRATA_ENCRYPTION__KEYS=f'{{"k1": "{key}"}}'
        )
        summaries = (await c.get("/v1/users/rosa/summaries")).json()
        assert summaries, "the session was summarised"
        facts = (await c.get("/v1/users/rosa/facts")).json()
        assert any("nurse" in f["text"] for f in facts), "extraction still works"
        exported = (await c.get("/v1/users/rosa/export")).text
        assert SECRETS["password"] in exported, "the user's own export opens the transcript"

    stored = []
    for table in TABLES:
        rows = await running.rows(f"SELECT row_to_json(t)::text FROM {table} t")
        stored += [str(row[0]) for row in rows]  # type: ignore[index]
    cached = [str(await redis.hgetall(k)) async for k in redis.scan_iter(match="ms:v1:*:session:*")]
    places = {"tables": stored, "redis": cached, "logs": [output, running.service.log(tail=None)]}
    for name, secret in SECRETS.items():
        for where, texts in places.items():
            found = [t[:200] for t in texts if any(f in t for f in forms(secret))]
            assert not found, f"the {name} is in the clear in {where}: {found}"
    await redis.flushdb()
    await redis.aclose()
