"""Request middleware: request ids, per-key rate limiting (a token bucket per API key
digest, in process) and the request size limit; limits answer with problem+json."""

import time
import uuid
from collections.abc import Awaitable, Callable

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from memory.api_keys import digest
from memory.requests import request_id
from service.problems import problem


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: int) -> None:
        self._rate, self._burst = rate_per_s, burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """0 if a request may go now, else the seconds until one may."""
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (float(self._burst), now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self._rate


class RequestIds(BaseHTTPMiddleware):
    """Every request gets an id (the caller's `X-Request-Id`, or a new one) that its log
    events carry and its answer echoes."""

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get("x-request-id", "")
        current = given if 0 < len(given) <= 100 and given.isprintable() else uuid.uuid4().hex
        token = request_id.set(current)
        try:
            response = await call_next(request)
        finally:
            request_id.reset(token)
        response.headers["X-Request-Id"] = current
        return response


class Limits(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, max_body_bytes: int, bucket: TokenBucket) -> None:
        super().__init__(app)
        self._max_body = max_body_bytes
        self._bucket = bucket

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self._max_body):
            return problem(
                413,
                "Payload too large",
                f"bodies are limited to {self._max_body} bytes",
                "payload_too_large",
            )
        authorization = request.headers.get("authorization", "")
        if authorization:
            wait = self._bucket.take(digest(authorization))
            if wait:
                response = problem(
                    429,
                    "Too many requests",
                    "this key's rate limit is exceeded; retry later",
                    "rate_limited",
                )
                response.headers["Retry-After"] = str(max(1, round(wait)))
                return response
        return await call_next(request)
