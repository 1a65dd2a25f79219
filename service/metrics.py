"""Prometheus metrics: request latency by route and status, the latencies of appends,
recalls and resumes, the worker's backlogs, and job outcomes and LLM tokens from the run
ledger."""

import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge, Histogram
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response

from memory.rls import SYSTEM, transaction


class Metrics:
    def __init__(self) -> None:
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
        self.ledger = LedgerGauges(self.registry)


_BACKLOG = text("""
SELECT (SELECT count(*) FROM messages WHERE embedding IS NULL)
     + (SELECT count(*) FROM facts WHERE embedding IS NULL) AS unembedded,
       (SELECT count(*) FROM sessions WHERE last_seq > extracted_seq) AS unextracted
""")
# Job outcomes and LLM tokens of the last hour, from the run ledger (shared by all workers).
_JOBS = text("""
SELECT kind, status, count(*) AS runs, sum(input_tokens) AS input_tokens,
       sum(output_tokens) AS output_tokens
FROM runs WHERE started_at > CAST(:now AS timestamptz) - interval '1 hour'
GROUP BY kind, status
""")


class LedgerGauges:
    """Read at scrape time from Postgres, so they hold for every worker process."""

    def __init__(self, registry: CollectorRegistry) -> None:
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

    async def refresh(self, engine: AsyncEngine, now: datetime) -> None:
        async with transaction(engine, SYSTEM) as conn:  # service-wide gauges
            backlog = (await conn.execute(_BACKLOG)).one()
            jobs = (await conn.execute(_JOBS, {"now": now})).all()
        self.backlog.labels("embedding").set(backlog.unembedded)
        self.backlog.labels("extraction").set(backlog.unextracted)
        for row in jobs:
            self.jobs.labels(row.kind, row.status).set(row.runs)
            self.tokens.labels(row.kind, "input").set(row.input_tokens or 0)
            self.tokens.labels(row.kind, "output").set(row.output_tokens or 0)


class MetricsMiddleware(BaseHTTPMiddleware):
    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics: Metrics = request.app.state.metrics
        metrics.requests.labels(path, request.method, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response
