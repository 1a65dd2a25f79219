"""The REST API. The container is built in the lifespan (or handed in by tests) and reaches
routes through a dependency."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from sqlalchemy import text

from memory.errors import BackendUnavailable
from memory.session_store import RedisSessionStore
from memory.settings import Settings
from reflection.scheduler import build_scheduler
from service import problems
from service.container import Container, build_container


class Health(BaseModel):
    status: str
    database: str
    embedded_database: bool
    session_store: str
    redis: str | None  # "ok" or "unavailable" (degraded: state is served from Postgres)
    version: str


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """An app that builds its own container from `settings`, or uses the one given (and
    leaves closing it to the caller)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if container is not None:
            app.state.container = container
            yield
            return
        config = settings or Settings()
        built = await build_container(config)
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
    problems.install(app)

    @app.get("/health")
    async def health(c: ContainerDep) -> Health:
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

    return app
