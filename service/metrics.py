"""Prometheus metrics: request latency by route and status, and the latencies of appends,
recalls and resumes as the library sees them."""

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Histogram
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response


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
