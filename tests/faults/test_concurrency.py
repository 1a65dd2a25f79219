"""Concurrency against a real `memstrata serve`: 20 clients x 50 sessions, each client
reconnecting for every session and resending a random share of its appends (as a client
does when an answer is lost) → exact counts, gapless increasing seq, no duplicates. And two
devices racing for one user → exactly one of them gets an active session."""

import asyncio
import random
import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.infra.rls import owner_transaction
from tests.services import Serve

CLIENTS = 20
SESSIONS_PER_CLIENT = 50
MESSAGES_PER_SESSION = 3
RESEND_SHARE = 0.25


async def run_client(base_url: str, key: str, client_no: int, seed: int) -> int:
    """Every session on a fresh connection; returns how many appends were resent."""
    rng = random.Random(seed)
    resent = 0
    headers = {"Authorization": f"Bearer {key}"}
    for s in range(SESSIONS_PER_CLIENT):
        sid = uuid.UUID(int=rng.getrandbits(128), version=4)
        async with httpx.AsyncClient(base_url=base_url, timeout=60.0, headers=headers) as client:
            for m in range(MESSAGES_PER_SESSION):
                body = {"role": "user", "content": f"c{client_no} s{s} m{m}"}
                idem = {"Idempotency-Key": f"c{client_no}-s{s}-m{m}"}
                path = f"/v1/users/u{client_no}/sessions/{sid}/messages"
                first = await client.post(path, json=body, headers=idem)
                assert first.status_code == 201, first.text
                if rng.random() < RESEND_SHARE:
                    again = await client.post(path, json=body, headers=idem)
                    assert again.status_code == 200 and again.json()["replayed"], again.text
                    assert again.json()["message"]["id"] == first.json()["message"]["id"]
                    resent += 1
    return resent


async def test_twenty_clients_fifty_sessions_each_with_retries_and_reconnects(
    fresh_database: str, engine: AsyncEngine, serve: Serve
) -> None:
    service, key = await serve(fresh_database)
    resent = await asyncio.gather(
        *(run_client(service.url, key, i, seed=1000 + i) for i in range(CLIENTS))
    )
    assert sum(resent) > 0

    async with owner_transaction(engine) as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT session_id, array_agg(seq ORDER BY seq) AS seqs, "
                    "array_agg(content ORDER BY seq) AS contents, count(*) AS n, "
                    "count(DISTINCT idempotency_key) AS keys FROM messages "
                    "WHERE tenant_id = 'acme' GROUP BY session_id"
                )
            )
        ).all()
        sessions = await conn.scalar(text("SELECT count(*) FROM sessions"))
    assert len(rows) == sessions == CLIENTS * SESSIONS_PER_CLIENT
    for row in rows:
        assert row.n == row.keys == MESSAGES_PER_SESSION, "no duplicates, nothing missing"
        assert list(row.seqs) == list(range(1, MESSAGES_PER_SESSION + 1)), "gapless, in order"
        assert [c.rsplit(" m", 1)[1] for c in row.contents] == ["0", "1", "2"]


async def test_two_devices_racing_for_one_user_leave_exactly_one_active_session(
    fresh_database: str, engine: AsyncEngine, serve: Serve
) -> None:
    service, key = await serve(fresh_database)
    headers = {"Authorization": f"Bearer {key}"}
    rounds = 15
    async with httpx.AsyncClient(base_url=service.url, timeout=30.0, headers=headers) as client:

        async def open_on(user: str, device: str) -> int:
            response = await client.post(
                f"/v1/users/{user}/sessions/{uuid.uuid4()}/messages",
                json={"role": "user", "content": f"hello from my {device}", "device_id": device},
            )
            return response.status_code

        for r in range(rounds):
            codes = sorted(
                await asyncio.gather(open_on(f"racer{r}", "phone"), open_on(f"racer{r}", "laptop"))
            )
            assert codes == [201, 409], codes

    async with owner_transaction(engine) as conn:
        active = (
            await conn.execute(
                text(
                    "SELECT user_id, count(*) AS n FROM sessions WHERE status = 'active' "
                    "AND tenant_id = 'acme' GROUP BY user_id"
                )
            )
        ).all()
    assert {row.user_id: row.n for row in active} == {f"racer{r}": 1 for r in range(rounds)}
