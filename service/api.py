"""The REST API: the app factory, its lifespan (which builds the container, or uses the one
given by tests), the middleware, the `/v1` routes and the operational endpoints."""

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from memory.errors import BackendUnavailable, ConfigurationError
from memory.session_store import RedisSessionStore
from memory.settings import Settings
from reflection.scheduler import build_scheduler
from service import problems
from service.container import Container, build_container
from service.deps import ContainerDep
from service.limits import Limits, RequestIds, TokenBucket
from service.metrics import Metrics, MetricsMiddleware
from service.routes import router

UI_DIR = Path(__file__).parent / "ui"


class Health(BaseModel):
    status: str
    database: str
    embedded_database: bool
    session_store: str
    redis: str | None  # "ok" or "unavailable" (degraded: state is served from Postgres)
    version: str


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


async def _health(c: Container) -> Health:
    async with c.database.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
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


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """An app that builds its own container from `settings`, or uses the one given (and
    leaves closing it to the caller)."""
    config = container.settings if container is not None else (settings or Settings())
    check_exposure(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if container is not None:
            app.state.container = container
            yield
            return
        built = await build_container(config)
        await built.embedder.warm_up()  # the first recall should not pay for loading a model
        app.state.container = built
        in_process = config.worker_in_process
        scheduler = None
        if in_process or (in_process is None and config.database_url is None):
            scheduler = build_scheduler(built.worker, config.reflection, config.lifecycle)
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            await built.close()

    app = FastAPI(title="memstrata", version=version("memstrata"), lifespan=lifespan)
    app.state.metrics = Metrics()
    problems.install(app)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(
        Limits,
        max_body_bytes=config.api.max_body_bytes,
        bucket=TokenBucket(config.api.rate_per_s, config.api.rate_burst),
    )
    app.add_middleware(RequestIds)
    app.include_router(router)
    # The inspector: static files over the same /v1 API and the same tenant keys.
    app.mount("/ui", StaticFiles(directory=UI_DIR, html=True), name="ui")

    @app.get("/health")
    @app.get("/readyz")
    async def ready(c: ContainerDep) -> Health:
        """Ready when Postgres answers; degraded (still serving) when Redis does not."""
        return await _health(c)

    @app.get("/healthz")
    async def alive() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics(c: ContainerDep) -> Response:
        await app.state.metrics.ledger.refresh(c.database.engine, c.clock())
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
