"""The REST API: the app factory, its lifespan (which builds the container, or uses the one
given by tests), the middleware, the `/v1` routes and the operational endpoints."""

import ipaddress
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy.engine import make_url
from starlette.datastructures import MutableHeaders
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memory.core.errors import BackendUnavailable, ConfigurationError
from memory.core.settings import ApiSettings, Settings
from memory.stores.session_store import RedisSessionStore
from service import problems, routes_keys, routes_labels, routes_memories
from service.container import Container, build_container
from service.deps import ContainerDep
from service.limits import BodyLimit, RateLimits, RequestIds, TokenBucket
from service.mcp_http import Guarded
from service.metrics import Metrics, MetricsMiddleware
from service.routes import router
from service.supervisor import WorkerProcess

UI_DIR = Path(__file__).parent / "ui"


class Alive(BaseModel):
    status: Literal["ok"] = "ok"


class Health(BaseModel):
    status: str
    database: str
    embedded_database: bool
    session_store: str
    redis: str | None  # "ok" or "unavailable" (degraded: state is served from Postgres)
    version: str


# The inspector is static: its own script, styles and API calls only, and never in a frame.
UI_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; "
    "object-src 'none'"
)
UI_HEADERS = {
    "Content-Security-Policy": UI_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """`X-Content-Type-Options: nosniff` on every answer; the inspector's pages (under
    /ui) also get a strict Content-Security-Policy and refuse to be framed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ui = scope["path"] == "/ui" or scope["path"].startswith("/ui/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if ui:
                    headers.update(UI_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def check_exposure(settings: Settings) -> None:
    """Refuse to serve without auth anywhere but on loopback."""
    host = settings.api.host
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not settings.api.auth and not loopback:
        raise ConfigurationError(
            f"refusing to listen on {host} with MEMSTRATA_API__AUTH=false; "
            "enable auth or bind to 127.0.0.1"
        )


def ready_line(config: Settings) -> str:
    """One line for the person who started `serve`: where it listens, where the data lives
    (never a password) and how to get a key."""
    if config.database_url is None:
        data = f"data in {config.data_dir} (embedded Postgres)"
    else:
        url = make_url(config.database_url)
        data = f"data in Postgres at {url.host}:{url.port or 5432}/{url.database}"
    return (
        f"memstrata is ready on http://{config.api.host}:{config.api.port} — {data} — "
        "get an API key with `memstrata tenant create NAME` (or POST /v1/tenants with the "
        "admin key)"
    )


async def _health(c: Container) -> Health:
    await c.database.ping()
    redis = None
    if isinstance(c.session_store, RedisSessionStore):
        try:
            await c.session_store.ping()
            redis = "ok"
        except BackendUnavailable:
            redis = "unavailable"
    return Health(
        status="ok" if redis != "unavailable" else "degraded",
        database="ok",
        embedded_database=c.database.embedded is not None,
        session_store=c.session_store.name,
        redis=redis,
        version=version("memstrata"),
    )


def add_middleware(app: FastAPI, api: ApiSettings, metrics: Metrics) -> None:
    """Outermost first: request ids, security headers, rate limits, the body limit, then
    the request metrics, so that refusals carry an id and cost no more than they must."""
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(BodyLimit, max_body_bytes=api.max_body_bytes)
    app.add_middleware(
        RateLimits,
        requests=TokenBucket(api.rate_per_s, api.rate_burst, api.rate_buckets_max),
        failures=TokenBucket(
            api.auth_failure_rate_per_s, api.auth_failure_burst, api.rate_buckets_max
        ),
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestIds)


def _lifespan(
    config: Settings, container: Container | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Build (or take) the container, and start the worker when asked."""

    @asynccontextmanager
    async def serving(app: FastAPI) -> AsyncIterator[None]:
        if container is not None:
            app.state.container = container
            yield
            return
        built = await build_container(config)
        await built.embedder.warm_up()  # the first recall should not pay for loading a model
        app.state.container = built
        wanted = config.serve_worker
        worker = None
        if wanted or (wanted is None and config.database_url is None):
            worker = WorkerProcess()  # its own process: never on this event loop
            worker.start()
        sys.stderr.write(ready_line(config) + "\n")  # for a person, above the JSON logs
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            await built.close()

    return serving


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """An app that builds its own container from `settings`, or uses the one given (and
    leaves closing it to the caller)."""
    config = container.settings if container is not None else (settings or Settings())
    check_exposure(config)
    lifespan = _lifespan(config, container)

    app = FastAPI(title="memstrata", version=version("memstrata"), lifespan=lifespan)
    app.state.metrics = Metrics(config.api.metrics_refresh_s)
    problems.install(app)
    add_middleware(app, config.api, app.state.metrics)
    app.include_router(router)
    app.include_router(routes_memories.router)
    app.include_router(routes_labels.router)
    app.include_router(routes_keys.router)
    # The inspector: static files over the same /v1 API and the same tenant keys.
    app.mount("/ui", StaticFiles(directory=UI_DIR, html=True), name="ui")
    # MCP over streamable HTTP, behind the same tenant keys (`service.mcp_http`).
    # An ASGI route, not a mount: the MCP URL is exactly /mcp, no redirect to /mcp/.
    guarded = Guarded(lambda: app.state.container, config.api.auth)
    app.router.routes.append(Route("/mcp", guarded, methods=["GET", "POST", "DELETE"]))

    @app.get("/health")
    @app.get("/readyz")
    async def ready(c: ContainerDep) -> Health:
        """Ready when Postgres answers; degraded (still serving) when Redis does not."""
        return await _health(c)

    @app.get("/healthz")
    async def alive() -> Alive:
        """The process answers (liveness; says nothing of Postgres or Redis)."""
        return Alive()

    @app.get("/metrics", include_in_schema=False)
    async def metrics(c: ContainerDep) -> Response:
        """Prometheus text; the gauges read from Postgres are `metrics_refresh_s` old at most."""
        await app.state.metrics.ledger.refresh(c.backlog, c.ledger, c.clock())
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
