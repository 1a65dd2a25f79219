"""Recall latency at scale: loads N synthetic facts over many users into a fresh database
(the embedded Postgres unless --database-url is given), then times hybrid recall for random
users, with the query embedded on the spot and with a precomputed query vector.

    python -m evals.bench_recall --rows 1000000 --users 10000

Prints load and index times and p50/p95 latencies; numbers go into the README."""

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import numpy as np
from pgvector.asyncpg import register_vector
from rich.console import Console
from sqlalchemy.engine import make_url

from evals import synthetic
from memory.core.domain import Scope, system_clock
from memory.core.settings import EmbeddingSettings, RecallSettings
from memory.infra.database import make_engine
from memory.infra.embedder import SentenceTransformerEmbedder
from memory.stores.recall import Recall
from service.scratch import fresh_database

TENANT = "bench"
console = Console(markup=False, highlight=False, soft_wrap=True)
BATCH = 20_000
# Built after the bulk load, as any large import would; same definitions as the migration.
_DEFERRED_INDEXES = {
    "ix_facts_embedding_hnsw": "CREATE INDEX ix_facts_embedding_hnsw ON facts USING hnsw "
    "(embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)",
    "ix_facts_tsv": "CREATE INDEX ix_facts_tsv ON facts USING gin (tsv)",
}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def rows_for(
    sizes: list[int], pool: list[tuple[str, str]], vectors: np.ndarray, seed: int
) -> Iterator[list[tuple[object, ...]]]:
    """Batches of fact rows; each vector is its statement's embedding plus a little noise,
    so that no two rows are identical points."""
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    batch: list[tuple[object, ...]] = []
    for user, size in enumerate(sizes):
        picks = rng.integers(0, len(pool), size)
        noisy = vectors[picks] + rng.normal(0, 0.02, (size, vectors.shape[1])).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        for pick, vector in zip(picks, noisy, strict=True):
            kind, statement = pool[pick]
            row_id = uuid.uuid4()
            batch.append(
                (row_id, TENANT, f"u{user}", kind, statement, row_id.hex, 0.5, now, now, vector)
            )
            if len(batch) == BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


async def load(
    url: str, sizes: list[int], embedder: SentenceTransformerEmbedder
) -> tuple[float, float]:
    """Bulk-load the facts, then build the indexes; returns (load s, index build s)."""
    pool = synthetic.statements()
    vectors = np.array(await embedder.embed([s for _, s in pool]), dtype=np.float32)
    raw = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(raw)
    try:
        await register_vector(conn)
        await conn.execute("INSERT INTO tenants (id, name) VALUES ($1, $1)", TENANT)
        await conn.executemany(
            "INSERT INTO users (tenant_id, id) VALUES ($1, $2)",
            [(TENANT, f"u{i}") for i in range(len(sizes))],
        )
        for name in _DEFERRED_INDEXES:
            await conn.execute(f"DROP INDEX {name}")
        started = time.perf_counter()
        columns = [
            "id",
            "tenant_id",
            "user_id",
            "kind",
            "text",
            "text_hash",
            "importance",
            "valid_from",
            "created_at",
            "embedding",
        ]
        for batch in rows_for(sizes, pool, vectors, seed=7):
            await conn.copy_records_to_table("facts", records=batch, columns=columns)
        loaded = time.perf_counter()
        console.print(f"loaded {sum(sizes):,} facts in {loaded - started:.1f} s")
        await conn.execute("SET maintenance_work_mem = '2GB'")
        await conn.execute("SET max_parallel_maintenance_workers = 1")
        for sql in _DEFERRED_INDEXES.values():
            await conn.execute(sql)
        await conn.execute("ANALYZE")
        built = time.perf_counter()
        console.print(f"built HNSW + GIN indexes and analyzed in {built - loaded:.1f} s")
    finally:
        await conn.close()
    return loaded - started, built - loaded


async def measure(
    url: str, sizes: list[int], embedder: SentenceTransformerEmbedder, queries: int, k: int
) -> dict[str, dict[str, float]]:
    """p50/p95/mean in ms of recall for random users, with the query embedded on the spot
    and with a precomputed vector, and of the embedding alone; plus the share of queries that
    got min(k, the user's rows) hits (under "complete")."""
    engine = make_engine(url, 2)
    recall = Recall(engine, embedder, RecallSettings(), system_clock, 32_000)
    rng = np.random.default_rng(11)
    asked = synthetic.questions(queries, seed=11)
    users = rng.integers(0, len(sizes), queries)
    await recall.recall(Scope(TENANT, "u0"), "warm up", k=k)
    embed_ms, with_ms, without_ms, returned = [], [], [], []
    for question, user in zip(asked, users, strict=True):
        scope = Scope(TENANT, f"u{user}")
        t0 = time.perf_counter()
        hits = await recall.recall(scope, question, k=k)
        t1 = time.perf_counter()
        vector = (await embedder.embed([question]))[0]
        t2 = time.perf_counter()
        await recall.recall(scope, question, k=k, query_embedding=vector)
        t3 = time.perf_counter()
        with_ms.append((t1 - t0) * 1000)
        embed_ms.append((t2 - t1) * 1000)
        without_ms.append((t3 - t2) * 1000)
        returned.append(min(len(hits), k) == min(sizes[user], k))
    await engine.dispose()
    summary = {
        name: {
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "mean": statistics.fmean(values),
        }
        for name, values in [
            ("recall_with_embedding", with_ms),
            ("recall_precomputed_vector", without_ms),
            ("query_embedding", embed_ms),
        ]
    }
    summary["complete"] = {"share": sum(returned) / queries}
    return summary


def report(summary: dict[str, dict[str, float]], queries: int, k: int, largest: int) -> None:
    console.print(f"{queries} queries, k={k}, all four tiers, users of 1 to {largest:,} facts")
    for label, key in [
        ("recall incl. query embedding", "recall_with_embedding"),
        ("recall with precomputed vector", "recall_precomputed_vector"),
        ("query embedding alone", "query_embedding"),
    ]:
        v = summary[key]
        console.print(
            f"  {label:32s} p50 {v['p50']:7.1f} ms   p95 {v['p95']:7.1f} ms   "
            f"mean {v['mean']:7.1f} ms"
        )
    console.print(
        f"  queries that got min(k, user's rows) hits: {summary['complete']['share']:.0%}"
    )


async def main(args: argparse.Namespace) -> None:
    embedder = SentenceTransformerEmbedder(EmbeddingSettings())
    sizes = synthetic.user_sizes(args.rows, args.users, seed=3)
    async with fresh_database("memstrata_bench", args.database_url, args.data_dir) as url:
        await load(url, sizes, embedder)
        summary = await measure(url, sizes, embedder, args.queries, args.k)
    report(summary, args.queries, args.k, max(sizes))
    await embedder.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--data-dir", default=tempfile.gettempdir() + "/memstrata-bench")
    asyncio.run(main(parser.parse_args()))
