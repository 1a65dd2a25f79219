"""Hot session state: restore latency and durable append throughput, with the Postgres
session store (no Redis) and with Redis, on a fresh database (the embedded Postgres unless
--database-url is given).

    python -m evals.bench_session --sessions 200 --messages 4000 --concurrency 16

Every append counted here is committed to Postgres before it returns."""

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid

import numpy as np
import redis.asyncio as aioredis
from rich.console import Console

from memory.core.domain import Scope, system_clock
from memory.core.settings import LifecycleSettings, SessionSettings
from memory.infra.database import make_engine
from memory.stores.session_store import PostgresSessionStore, RedisSessionStore, SessionStore
from memory.stores.sessions import Sessions
from memory.stores.tenants import TenantStore
from memory.stores.transcripts import TranscriptStore
from service.scratch import fresh_database

# Plain output: no markup, no highlighting; the numbers are the point.
console = Console(markup=False, highlight=False, soft_wrap=True)

BODY = "Could you move my dentist appointment to Thursday afternoon, after three?"


def ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) * 1000


async def appends(
    sessions: Sessions, targets: list[tuple[Scope, uuid.UUID]], messages: int, concurrency: int
) -> tuple[float, list[float]]:
    """Messages per second over `concurrency` workers, and each append's latency."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(messages):
        queue.put_nowait(i)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            scope, sid = targets[i % len(targets)]
            started = time.perf_counter()
            await sessions.append(
                scope, sid, "user" if i % 2 else "assistant", BODY, idempotency_key=f"{sid}:{i}"
            )
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return messages / (time.perf_counter() - started), latencies


async def restores(
    sessions: Sessions, store: SessionStore, targets: list[tuple[Scope, uuid.UUID]], cold: bool
) -> list[float]:
    latencies = []
    for scope, sid in targets:
        if cold:
            await store.delete(scope, sid)
        started = time.perf_counter()
        await sessions.state(scope, sid)
        latencies.append(time.perf_counter() - started)
    return latencies


async def run(label: str, url: str, store_for: str, args: argparse.Namespace) -> None:
    engine = make_engine(url, args.concurrency + 4)
    store: SessionStore
    if store_for == "redis":
        client = aioredis.Redis.from_url(args.redis_url)
        await client.flushdb()
        await client.aclose()
        store = RedisSessionStore(args.redis_url)
    else:
        store = PostgresSessionStore(engine, system_clock)
    sessions = Sessions(
        engine,
        TranscriptStore(engine, system_clock, 32_000),
        store,
        TenantStore(engine, LifecycleSettings(), 10),
        system_clock,
        SessionSettings(),
    )
    targets = [(Scope("bench", f"{label}-u{i}"), uuid.uuid4()) for i in range(args.sessions)]
    rate, append_s = await appends(sessions, targets, args.messages, args.concurrency)
    warm = await restores(sessions, store, targets, cold=False)
    cold = await restores(sessions, store, targets, cold=True)
    console.print(
        f"{label:9s} append {rate:7.0f} msg/s (p50 {ms(append_s, 50):5.1f} ms, "
        f"p95 {ms(append_s, 95):5.1f} ms)  restore cached p50 {ms(warm, 50):4.1f} ms "
        f"p95 {ms(warm, 95):4.1f} ms  rebuilt p50 {ms(cold, 50):4.1f} ms "
        f"p95 {ms(cold, 95):4.1f} ms  (mean cached {statistics.fmean(warm) * 1000:.1f} ms)"
    )
    await store.close()
    await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    console.print(
        f"{args.messages} appends over {args.sessions} sessions by {args.concurrency} "
        f"concurrent writers; restore = state of each session (window of 20)"
    )
    async with fresh_database("memstrata_bench_session", args.database_url, args.data_dir) as url:
        await run("postgres", url, "postgres", args)
        await run("redis", url, "redis", args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--data-dir", default=tempfile.gettempdir() + "/memstrata-bench")
    asyncio.run(main(parser.parse_args()))
