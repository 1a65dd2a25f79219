"""The service over loopback: starts `memstrata serve` on a free port (embedded Postgres in
a scratch data dir) unless --url is given, then drives it with concurrent clients for a set
time and a bounded number of requests, and prints append, recall and resume latency
p50/p95/p99 and requests per second.

    python -m evals.bench_api --seconds 30 --clients 8"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict

import httpx
import numpy as np
from rich.console import Console

# Plain output: no markup, no highlighting; the numbers are the point.
console = Console(markup=False, highlight=False, soft_wrap=True)

ADMIN = "bench-admin-key"
SAYINGS = [
    "I moved to Porto last spring and I love the river walks.",
    "Can you remind me to call the dentist on Thursday?",
    "We decided to repaint the kitchen in a warm white.",
    "I'm planning to run a half marathon in May.",
    "My sister Ana is visiting next week with her kids.",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MEMSTRATA_DATA_DIR": data_dir,
        "MEMSTRATA_API__ADMIN_KEY": ADMIN,
        "MEMSTRATA_API__RATE_BURST": "1000000",
        "MEMSTRATA_LOG_FORMAT": "text",
        "HF_HUB_OFFLINE": "1",
    }
    command = [
        sys.executable,
        "-c",
        "from service.cli import app; app()",
        "serve",
        "--port",
        str(port),
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_ready(client: httpx.AsyncClient, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.5)
    raise RuntimeError("the service did not become ready")


async def drive(
    client: httpx.AsyncClient,
    key: str,
    worker: int,
    until: float,
    budget: list[int],
    latencies: dict[str, list[float]],
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    user, session = f"user{worker}", str(uuid.uuid4())
    turn = 0
    while time.monotonic() < until and budget[0] > 0:
        budget[0] -= 1
        turn += 1
        if turn % 10 == 0:
            op, request = (
                "resume",
                client.post(
                    f"/v1/users/{user}/resume", headers=headers, json={"message": "hello again"}
                ),
            )
        elif turn % 5 == 0:
            op, request = (
                "recall",
                client.post(
                    f"/v1/users/{user}/recall",
                    headers=headers,
                    json={"query": "where do I live?", "k": 5},
                ),
            )
        else:
            body = {"role": "user", "content": SAYINGS[turn % len(SAYINGS)]}
            op, request = (
                "append",
                client.post(
                    f"/v1/users/{user}/sessions/{session}/messages",
                    headers=headers | {"Idempotency-Key": f"{session}:{turn}"},
                    json=body,
                ),
            )
        started = time.perf_counter()
        response = await request
        response.raise_for_status()
        latencies[op].append((time.perf_counter() - started) * 1000)


async def main(args: argparse.Namespace) -> None:
    server = None
    url = args.url
    if url is None:
        port = free_port()
        server = start_server(port, tempfile.mkdtemp(prefix="memstrata-bench-api-"))
        url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await wait_ready(client, 120)
            made = await client.post(
                "/v1/tenants",
                json={"id": "bench"},
                headers={"Authorization": f"Bearer {args.admin_key}"},
            )
            key = made.json()["api_key"]
            latencies: dict[str, list[float]] = defaultdict(list)
            budget = [args.max_requests]
            started = time.monotonic()
            until = started + args.seconds
            await asyncio.gather(
                *(drive(client, key, w, until, budget, latencies) for w in range(args.clients))
            )
            elapsed = time.monotonic() - started
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    total = sum(len(v) for v in latencies.values())
    console.print(
        f"{total} requests from {args.clients} clients in {elapsed:.1f} s: "
        f"{total / elapsed:.0f} requests/s"
    )
    for op in ("append", "recall", "resume"):
        values = np.array(latencies[op])
        if len(values):
            console.print(
                f"  {op:7s} n={len(values):5d}  p50 {np.percentile(values, 50):6.1f} ms  "
                f"p95 {np.percentile(values, 95):6.1f} ms  p99 {np.percentile(values, 99):6.1f} ms"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None, help="a running service (default: start one)")
    parser.add_argument("--admin-key", default=ADMIN)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=20_000)
    asyncio.run(main(parser.parse_args()))
