"""Performance report: durable append latency, ingest throughput with embeddings, resume
latency per mode, recall latency against the number of stored memories (1k to 1M rows by
default) and the process's peak memory, on fresh databases of the embedded Postgres (or
--database-url). Writes JSON, a markdown report and PNG plots to evals/reports/<stamp>/,
stamped with versions, settings and machine.

    memstrata eval bench [--max-rows 1000000] [--queries 200]"""

import argparse
import asyncio
import json
import resource
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from rich.console import Console
from rich.progress import Progress

from evals import bench_recall, eval_resume, synthetic
from evals.report import machine_stamp, reports_dir
from memory.core.domain import Role, Scope
from memory.core.settings import EmbeddingSettings, Settings
from memory.infra.embedder import SentenceTransformerEmbedder
from service.container import Container, build_container
from service.scratch import SimClock, fresh_database

mpl.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

SIZES = (1_000, 10_000, 100_000, 1_000_000)
ROWS_PER_USER = 100  # users = rows / 100, sizes skewed as in bench_recall
GAPS = (timedelta(minutes=10), timedelta(days=1), timedelta(days=30))


def stats(values_s: list[float]) -> dict[str, float]:
    ms = np.array(values_s) * 1000
    return {
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "mean": float(ms.mean()),
        "n": len(values_s),
    }


def _settings(url: str) -> Settings:
    return Settings.model_validate(Settings().model_dump() | {"database_url": url})


async def appends_and_ingest(app: Container, count: int) -> dict[str, Any]:
    """Single-client durable appends (each committed before it returns), then the worker's
    embedding of what was appended: ingest throughput with embeddings."""
    pool = [text for _, text in synthetic.statements()]
    scopes = [Scope("bench", f"writer-{i}") for i in range(4)]
    sessions = {scope: uuid.uuid4() for scope in scopes}
    latencies = []
    started = time.perf_counter()
    for i in range(count):
        scope = scopes[i % len(scopes)]
        t0 = time.perf_counter()
        await app.sessions.append(scope, sessions[scope], Role.USER, pool[i % len(pool)])
        latencies.append(time.perf_counter() - t0)
    appended = time.perf_counter()
    embedded = 0
    while embedded < count:
        done = await app.worker.embed()
        if done == 0:
            break
        embedded += done
    finished = time.perf_counter()
    return {
        "append_ms": stats(latencies),
        "append_per_s": count / (appended - started),
        "embed_per_s": embedded / max(finished - appended, 1e-9),
        "ingest_with_embeddings_per_s": count / (finished - started),
        "messages": count,
    }


async def resumes(app: Container, clock: SimClock, repeats: int) -> dict[str, Any]:
    """Resume latency per mode the planner chose, for the scripted users of the resumption
    eval returning after each gap of GAPS (a user who closed their task is not restored,
    so a short gap can still mean a fresh start)."""
    users = json.loads(eval_resume.DATA.read_text())["users"]
    timings: dict[str, list[float]] = {}
    for user in users:
        clock.now = eval_resume.START
        scope = await eval_resume.replay(app, clock, user)
        ended = clock.now
        for gap in GAPS:
            clock.now = ended + gap
            for _ in range(repeats):
                t0 = time.perf_counter()
                context = await app.resumer.resume(scope, "hello again", device_id="phone")
                timings.setdefault(context.mode.value, []).append(time.perf_counter() - t0)
    return {mode: stats(values) for mode, values in sorted(timings.items())}


async def recall_scaling(
    sizes: list[int], queries: int, database_url: str | None, data_dir: str, progress: Progress
) -> list[dict[str, Any]]:
    embedder = SentenceTransformerEmbedder(EmbeddingSettings())
    results = []
    task = progress.add_task("recall at scale", total=len(sizes))
    try:
        for rows in sizes:
            users = max(rows // ROWS_PER_USER, 10)
            user_sizes = synthetic.user_sizes(rows, users, seed=3)
            async with fresh_database("memstrata_bench_scale", database_url, data_dir) as url:
                load_s, index_s = await bench_recall.load(url, user_sizes, embedder)
                summary = await bench_recall.measure(url, user_sizes, embedder, queries, 10)
            results.append(
                {
                    "rows": rows,
                    "users": users,
                    "largest_user": max(user_sizes),
                    "load_s": load_s,
                    "index_s": index_s,
                    **summary,
                }
            )
            progress.advance(task)
    finally:
        await embedder.close()
    return results


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def plot_scaling(scaling: list[dict[str, Any]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    rows = [r["rows"] for r in scaling]
    for key, label, style in [
        ("recall_precomputed_vector", "recall, precomputed query vector", "-"),
        ("recall_with_embedding", "recall incl. query embedding", "--"),
    ]:
        for q, marker in (("p50", "o"), ("p95", "^")):
            ax.plot(rows, [r[key][q] for r in scaling], style, marker=marker, label=f"{label} {q}")
    ax.set_xscale("log")
    ax.set_xlabel("stored facts (all users)")
    ax.set_ylabel("latency (ms)")
    ax.set_title("Recall latency against stored memories (k=10, 4 tiers)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_operations(result: dict[str, Any], path: Path) -> None:
    labels = ["append"] + [f"resume {m}" for m in result["resume"]]
    parts = [result["ingest"]["append_ms"], *result["resume"].values()]
    if result["recall_scaling"]:
        smallest = result["recall_scaling"][0]
        labels.append(f"recall @{smallest['rows']:,}")
        parts.append(smallest["recall_with_embedding"])
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.bar(x - 0.2, [p["p50"] for p in parts], 0.4, label="p50")
    ax.bar(x + 0.2, [p["p95"] for p in parts], 0.4, label="p95")
    ax.set_xticks(x, labels, rotation=20, ha="right")
    ax.set_ylabel("latency (ms)")
    ax.set_title("Latency per operation (single client)")
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    ingest = result["ingest"]
    lines = [
        f"# memstrata performance report — {result['stamp']}",
        "",
        f"memstrata {m['memstrata']} ({m['commit']}), Python {m['python']}, torch {m['torch']} "
        f"({m['torch_threads']} thread(s)), {m['cpus']} CPUs, {m['memory_gib']} GiB, "
        f"{m['platform']}. Embedded Postgres with pgvector, no Redis.",
        "",
        "## Ingest",
        f"- durable append (committed before it returns): p50 {ingest['append_ms']['p50']:.1f} ms,"
        f" p95 {ingest['append_ms']['p95']:.1f} ms, {ingest['append_per_s']:.0f} messages/s",
        f"- embedding what was appended: {ingest['embed_per_s']:.0f} messages/s",
        f"- ingest with embeddings, end to end: {ingest['ingest_with_embeddings_per_s']:.0f} "
        f"messages/s ({ingest['messages']} messages)",
        "",
        "## Resume (scripted users of the resumption eval, back after 10 min, 1 day, 30 days)",
        "| mode the planner chose | p50 ms | p95 ms | n |",
        "|---|---|---|---|",
        *(
            f"| {mode} | {v['p50']:.1f} | {v['p95']:.1f} | {v['n']} |"
            for mode, v in result["resume"].items()
        ),
        "",
        "## Recall against stored memories (k=10, all four tiers)",
        "| facts | users (largest) | load s | index s | incl. embedding p50 / p95 ms "
        "| precomputed vector p50 / p95 ms |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['rows']:,} | {r['users']:,} ({r['largest_user']:,}) | {r['load_s']:.0f} "
            f"| {r['index_s']:.0f} | {r['recall_with_embedding']['p50']:.1f} / "
            f"{r['recall_with_embedding']['p95']:.1f} | "
            f"{r['recall_precomputed_vector']['p50']:.1f} / "
            f"{r['recall_precomputed_vector']['p95']:.1f} |"
            for r in result["recall_scaling"]
        ),
        "",
        f"Peak memory of the benchmark process: {result['peak_rss_mib']:.0f} MiB "
        "(Postgres runs in its own processes and is not counted).",
        "",
        "![recall latency against stored memories](recall_scaling.png)",
        "",
        "![latency per operation](operations.png)",
        "",
    ]
    return "\n".join(lines)


async def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    sizes = [s for s in SIZES if s <= args.max_rows]
    clock = SimClock(eval_resume.START)
    with Progress(console=console) as progress:
        task = progress.add_task("ingest and resume", total=2)
        async with fresh_database("memstrata_bench_ops", args.database_url, args.data_dir) as url:
            settings = _settings(url)
            app = await build_container(settings, clock=clock)
            try:
                await app.embedder.embed(["warm up"])
                ingest = await appends_and_ingest(app, args.messages)
                progress.advance(task)
                resume = await resumes(app, clock, args.repeats)
                progress.advance(task)
            finally:
                await app.close()
        scaling = await recall_scaling(
            sizes, args.queries, args.database_url, args.data_dir, progress
        )
    return {
        "stamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_stamp(settings.model_dump(mode="json", exclude={"database_url"})),
        "ingest": ingest,
        "resume": resume,
        "recall_scaling": scaling,
        "peak_rss_mib": peak_rss_mib(),
    }


def write(result: dict[str, Any], out: Path) -> Path:
    """The JSON result, the two plots and the markdown report that shows them."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result, indent=2, default=str))
    plot_scaling(result["recall_scaling"], out / "recall_scaling.png")
    plot_operations(result, out / "operations.png")
    (out / "report.md").write_text(markdown(result))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-rows", type=int, default=SIZES[-1])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=10, help="resumes per user and mode")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--data-dir", default=tempfile.gettempdir() + "/memstrata-bench")
    parser.add_argument("--out", type=Path, help="directory for the report")
    args = parser.parse_args()
    console = Console()
    result = asyncio.run(run(args, console))
    out = write(result, reports_dir(args.out) / f"bench-{datetime.now(UTC):%Y%m%d-%H%M%S}")
    console.print((out / "report.md").read_text(), markup=False)
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
