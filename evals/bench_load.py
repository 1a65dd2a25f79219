"""Sustained load: starts `memstrata serve` (embedded Postgres, model warmed at start) and
drives it in steps of more and more concurrent clients, each step for a fixed time, with the
bench_api mix (appends; every 5th request a recall, every 10th a resume). Reports each
step's requests/s and p50/p95/p99 over all requests, and the highest sustained rate whose
p95 stays within the target.

    memstrata eval load [--steps 1,2,4,8,16] [--seconds 15] [--p95-ms 250]"""

import argparse
import asyncio
import tempfile
import time
from collections import defaultdict

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from evals.bench_api import ADMIN, drive, free_port, start_server, wait_ready


async def step(url: str, key: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: dict[str, list[float]] = defaultdict(list)
    budget = [10**9]
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(
            *(
                drive(client, key, 1000 * clients + w, until, budget, latencies)
                for w in range(clients)
            )
        )
        elapsed = time.monotonic() - started
    every = np.array([v for values in latencies.values() for v in values])
    return {
        "clients": clients,
        "requests_per_s": len(every) / elapsed,
        "p50": float(np.percentile(every, 50)),
        "p95": float(np.percentile(every, 95)),
        "p99": float(np.percentile(every, 99)),
        "requests": len(every),
    }


async def main(args: argparse.Namespace) -> None:
    console = Console()
    steps = [int(s) for s in args.steps.split(",")]
    port = free_port()
    server = start_server(port, tempfile.mkdtemp(prefix="memstrata-bench-load-"))
    url = f"http://127.0.0.1:{port}"
    results = []
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await wait_ready(client, 120)
            made = await client.post(
                "/v1/tenants", json={"id": "load"}, headers={"Authorization": f"Bearer {ADMIN}"}
            )
            key = made.json()["api_key"]
        for clients in steps:
            results.append(await step(url, key, clients, args.seconds))
            console.print(f"  {clients} clients: {results[-1]['requests_per_s']:.0f} requests/s")
    finally:
        server.terminate()
        server.wait(timeout=30)
    table = Table(title=f"Sustained load, {args.seconds:.0f} s per step (append/recall/resume mix)")
    for column in ("clients", "requests/s", "p50 ms", "p95 ms", "p99 ms", "requests"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            str(r["clients"]),
            f"{r['requests_per_s']:.0f}",
            f"{r['p50']:.1f}",
            f"{r['p95']:.1f}",
            f"{r['p99']:.1f}",
            str(int(r["requests"])),
        )
    console.print(table)
    within = [r for r in results if r["p95"] <= args.p95_ms]
    if within:
        best = max(within, key=lambda r: r["requests_per_s"])
        console.print(
            f"sustained: {best['requests_per_s']:.0f} requests/s at p95 {best['p95']:.0f} ms "
            f"({best['clients']} clients; target p95 <= {args.p95_ms:.0f} ms)"
        )
    else:
        console.print(f"no step kept p95 within {args.p95_ms:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", default="1,2,4,8,16")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--p95-ms", type=float, default=250)
    asyncio.run(main(parser.parse_args()))
