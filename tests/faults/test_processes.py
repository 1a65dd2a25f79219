"""Faults with real processes: the API killed with SIGKILL in the middle of a stream of
appends and started again, and Postgres becoming unreachable under a running API. Nothing
acknowledged is lost, retries with idempotency keys never duplicate, and an unreachable
database is a 503 with Retry-After, then recovery without a restart."""

import asyncio
import time
import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.infra.rls import owner_transaction
from tests.faults.conftest import Proxy, via_proxy
from tests.services import Serve

CLIENTS = 4
MESSAGES_PER_CLIENT = 25
KILL_AFTER_ACKS = 30
RETRY_WITHIN_S = 120.0


async def send_all(
    base_url: str, key: str, client_no: int, acked: dict[str, uuid.UUID], sid: uuid.UUID
) -> int:
    """Append this client's messages in order, each retried with its idempotency key until
    acknowledged (bounded in time); returns how many attempts failed on the way."""
    failures = 0
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=5.0, headers=headers) as client:
        for n in range(MESSAGES_PER_CLIENT):
            idem = f"c{client_no}-m{n}"
            deadline = time.monotonic() + RETRY_WITHIN_S
            while True:
                assert time.monotonic() < deadline, f"{idem} never acknowledged"
                try:
                    response = await client.post(
                        f"/v1/users/u{client_no}/sessions/{sid}/messages",
                        json={"role": "user", "content": f"message {n} of client {client_no}"},
                        headers={"Idempotency-Key": idem},
                    )
                except httpx.TransportError:
                    failures += 1
                    await asyncio.sleep(0.2)
                    continue
                if response.status_code in (200, 201):
                    acked[idem] = uuid.UUID(response.json()["message"]["id"])
                    break
                assert response.status_code == 503, response.text
                failures += 1
                await asyncio.sleep(0.2)
    return failures


async def test_a_killed_api_loses_nothing_acknowledged_and_retries_do_not_duplicate(
    fresh_database: str, engine: AsyncEngine, serve: Serve
) -> None:
    service, key = await serve(fresh_database)
    started = service.log(tail=None)  # one line for a person, no password in it
    assert f"memstrata is ready on http://127.0.0.1:{service.port}" in started
    assert "memstrata tenant create" in started
    password = make_url(fresh_database).password
    assert not password or str(password) not in started
    acked: dict[str, uuid.UUID] = {}
    sessions = [uuid.uuid4() for _ in range(CLIENTS)]

    async def killer() -> None:
        deadline = time.monotonic() + RETRY_WITHIN_S
        while len(acked) < KILL_AFTER_ACKS:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        service.kill()
        await asyncio.sleep(0.5)
        service.start()
        await service.ready()

    results = await asyncio.gather(
        killer(),
        *(send_all(service.url, key, i, acked, sessions[i]) for i in range(CLIENTS)),
    )
    failures = sum(r for r in results[1:] if isinstance(r, int))
    assert failures > 0, "the kill happened while no request was in flight; nothing was tested"
    assert len(acked) == CLIENTS * MESSAGES_PER_CLIENT

    async with owner_transaction(engine) as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT user_id, session_id, seq, idempotency_key, id FROM messages "
                    "WHERE tenant_id = 'acme' ORDER BY user_id, seq"
                )
            )
        ).all()
    keys = [row.idempotency_key for row in rows]
    assert len(keys) == len(set(keys)) == CLIENTS * MESSAGES_PER_CLIENT, "exactly once each"
    stored = {row.idempotency_key: row.id for row in rows}
    assert stored == acked, "every acknowledged message is stored, under the id acknowledged"
    for client_no in range(CLIENTS):
        mine = [row for row in rows if row.user_id == f"u{client_no}"]
        assert [row.seq for row in mine] == list(range(1, MESSAGES_PER_CLIENT + 1))
        order = [int(row.idempotency_key.split("-m")[1]) for row in mine]
        assert order == sorted(order), "the session keeps the order the client sent"


async def test_an_unreachable_database_is_a_503_with_retry_after_then_recovers(
    fresh_database: str, proxy: Proxy, serve: Serve
) -> None:
    service, key = await serve(via_proxy(fresh_database, proxy))
    headers = {"Authorization": f"Bearer {key}"}
    sid = uuid.uuid4()
    body = {"role": "user", "content": "before the outage"}
    async with httpx.AsyncClient(base_url=service.url, timeout=30.0, headers=headers) as client:
        path = f"/v1/users/ana/sessions/{sid}/messages"
        assert (await client.post(path, json=body)).status_code == 201

        proxy.cut()
        outage = [
            await client.post(path, json={"role": "user", "content": f"during {i}"})
            for i in range(3)
        ]
        for response in outage:
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert int(response.headers["Retry-After"]) >= 1
        assert (await client.get("/readyz")).status_code == 503

        proxy.restore()
        deadline = time.monotonic() + 30
        while True:  # the pool reconnects on its own: no restart
            recovered = await client.post(path, json={"role": "user", "content": "after"})
            if recovered.status_code == 201:
                break
            assert recovered.status_code == 503 and time.monotonic() < deadline
            await asyncio.sleep(0.5)
        state = (await client.get(f"/v1/users/ana/sessions/{sid}")).json()
        contents = [m["content"] for m in state["window"]]
        assert contents == ["before the outage", "after"], "nothing half-written by the outage"
    assert service.process is not None and service.process.poll() is None
