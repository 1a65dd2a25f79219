"""Request middleware, pure ASGI: request ids, rate limits (token buckets in process) and the
body size limit, counted on the bytes actually read; limits answer with problem+json."""

import math
import time
import uuid
from collections.abc import Callable
from itertools import islice

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memory.core.requests import request_id
from memory.stores.api_keys import digest
from service.deps import bearer_token
from service.problems import problem

# Probes must keep answering while a tenant floods or an address fails to log in, or the
# orchestrator would restart a healthy service: these paths skip every rate limit.
HEALTH_PATHS = frozenset({"/health", "/readyz", "/healthz"})
# The answer to a missing, unknown or revoked key, after a key lookup. (A wrong admin key,
# 403, costs no lookup, and a tenant's key on an admin route is no guess.)
REFUSED = 401


class TokenBucket:
    """Token buckets by key. The table is bounded: past `max_keys` it drops the full buckets
    (a new bucket starts full, so nothing is lost), then the least recently used ones."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate, self._burst, self._max_keys = rate_per_s, burst, max_keys
        self._clock = clock  # seconds, only ever compared with itself
        self._buckets: dict[str, tuple[float, float]] = {}  # oldest use first

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Takes a token: 0 if a request may go now, else the seconds until one may."""
        now = self._clock()
        tokens = self._tokens(key, now)
        self._buckets.pop(key, None)  # re-inserted at the end: the table stays in use order
        self._buckets[key] = (tokens - 1 if tokens >= 1 else tokens, now)
        if len(self._buckets) > self._max_keys:
            self._prune(now)
        return 0.0 if tokens >= 1 else self._until_one(tokens)

    def wait(self, key: str) -> float:
        """The seconds until `key` has a token (0: it has one now), taking none."""
        tokens = self._tokens(key, self._clock())
        return 0.0 if tokens >= 1 else self._until_one(tokens)

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._buckets.get(key, (float(self._burst), now))
        return min(float(self._burst), tokens + (now - last) * self._rate)

    def _until_one(self, tokens: float) -> float:
        return (1 - tokens) / self._rate

    def _prune(self, now: float) -> None:
        # Down to three quarters of the bound, so that pruning (a full scan) stays rare.
        for key in [k for k in self._buckets if self._tokens(k, now) >= self._burst]:
            del self._buckets[key]
        excess = len(self._buckets) - self._max_keys * 3 // 4
        for key in list(islice(self._buckets, max(excess, 0))):
            del self._buckets[key]


def too_many(wait_s: float, detail: str) -> Response:
    response = problem(429, "Too many requests", detail, "rate_limited")
    response.headers["Retry-After"] = str(max(1, math.ceil(wait_s)))
    return response


def client_address(scope: Scope) -> str:
    """The peer's address (uvicorn puts a trusted proxy's X-Forwarded-For here)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RequestIds:
    """Every request gets an id (the caller's `X-Request-Id`, or a new one) that its log
    events carry and its answer echoes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        current = given if 0 < len(given) <= 100 and given.isprintable() else uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = current
            await send(message)

        token = request_id.set(current)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


class RateLimits:
    """A token bucket per API key (the bearer token, normalised and hashed, so `bearer K`
    and `BEARER  K` share one), or per client address for requests without a usable one.
    Refused keys (401) drain a slower bucket of the client's address; once it is empty, the
    address's requests are refused before any key lookup. Health probes are exempt."""

    def __init__(self, app: ASGIApp, requests: TokenBucket, failures: TokenBucket) -> None:
        self.app = app
        self._requests, self._failures = requests, failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in HEALTH_PATHS:
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        refused = self._refusal(scope, address)
        if refused is not None:
            await refused(scope, receive, send)
            return

        async def send_counting_failures(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == REFUSED:
                self._failures.take(address)
            await send(message)

        await self.app(scope, receive, send_counting_failures)

    def _refusal(self, scope: Scope, address: str) -> Response | None:
        failing = self._failures.wait(address)
        if failing:
            return too_many(failing, "too many refused credentials from this address")
        token = bearer_token(Headers(scope=scope).get("authorization"))
        key = f"key:{digest(token)}" if token else f"address:{address}"
        wait = self._requests.take(key)
        if wait:
            detail = "the rate limit of this key (without one: of this address) is exceeded"
            return too_many(wait, detail)
        return None


class BodyLimit:
    """Refuses (413) a body over `max_body_bytes`: by its Content-Length when declared, else
    by the bytes read, so a chunked body is cut off too. The body is read before the app
    runs, keeping at most `max_body_bytes` + 1 bytes, and replayed to the app."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self._max = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._max):
            await self._too_large()(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nothing to answer
                return
            body += message.get("body", b"")[: self._max + 1 - len(body)]
            if len(body) > self._max:
                await self._too_large()(scope, receive, send)
                return
            more = message.get("more_body", False)
        await self.app(scope, _replaying(bytes(body), receive), send)

    def _too_large(self) -> Response:
        detail = f"bodies are limited to {self._max} bytes"
        return problem(413, "Payload too large", detail, "payload_too_large")


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The body read, in one message; then whatever the server says next (a disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
