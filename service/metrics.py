"""Prometheus metrics: request latency by route and status, the latencies of appends,
recalls and resumes, the worker's backlogs, and job outcomes and LLM tokens from the run
ledger (read from Postgres at most once per `MEMSTRATA_API__METRICS_REFRESH_S`)."""

import asyncio
import time
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memory.stores.pending import Backlog
from reflection.ledger import Ledger


class Metrics:
    def __init__(self, ledger_refresh_s: float) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "memstrata_request_seconds",
            "HTTP request latency",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.operations = Histogram(
            "memstrata_operation_seconds",
            "append, recall and resume latency",
            ["operation"],
            registry=self.registry,
        )
        self.ledger = LedgerGauges(self.registry, ledger_refresh_s)


class LedgerGauges:
    """Read from Postgres, so they hold for every worker process; at most once per
    `refresh_s` and by one scrape at a time, so a flood of scrapes costs the database
    one read per window. Scrapes meanwhile answer with the last values."""

    def __init__(self, registry: CollectorRegistry, refresh_s: float) -> None:
        self.backlog = Gauge(
            "memstrata_backlog", "rows waiting for the worker", ["queue"], registry=registry
        )
        self.jobs = Gauge(
            "memstrata_jobs_last_hour",
            "job runs in the last hour",
            ["kind", "status"],
            registry=registry,
        )
        self.tokens = Gauge(
            "memstrata_llm_tokens_last_hour",
            "LLM tokens in the last hour",
            ["kind", "direction"],
            registry=registry,
        )
        self.refreshes = 0  # reads from Postgres so far
        self._window = timedelta(seconds=refresh_s)
        self._read_at: datetime | None = None
        self._lock = asyncio.Lock()

    async def refresh(self, backlog: Backlog, ledger: Ledger, now: datetime) -> None:
        """Read the gauges unless they were read within the window (by the clock's `now`)."""
        if self._read_at is not None and self._lock.locked():
            return  # another scrape is reading: the last values do
        async with self._lock:
            if self._read_at is not None and self._read_at <= now < self._read_at + self._window:
                return
            await self._read(backlog, ledger, now)
            self._read_at = now
            self.refreshes += 1

    async def _read(self, backlog: Backlog, ledger: Ledger, now: datetime) -> None:
        sizes = await backlog.sizes()
        jobs = await ledger.last_hour(now)
        self.backlog.labels("embedding").set(sizes.unembedded)
        self.backlog.labels("extraction").set(sizes.unextracted)
        self.jobs.clear()  # a kind without runs in the last hour has no series
        self.tokens.clear()
        for row in jobs:
            self.jobs.labels(row.kind, row.status).set(row.runs)
            self.tokens.labels(row.kind, "input").set(row.input_tokens)
            self.tokens.labels(row.kind, "output").set(row.output_tokens)


class MetricsMiddleware:
    """Times every request by the route that matched, its method and its status (500 when
    the app raised)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self._metrics.requests.labels(path, scope["method"], str(status)).observe(
                time.perf_counter() - started
            )
