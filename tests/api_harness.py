"""The REST API in process, for the API tests: a service on its own fresh database behind
httpx's ASGI transport, with two tenants (acme, globex) and their keys."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from memory.core.domain import Clock
from memory.core.settings import Settings
from memory.infra.embedder import SentenceTransformerEmbedder
from service.api import create_app
from service.container import Container, build_container

ADMIN = "admin-secret-for-tests"


@dataclass
class Api:
    client: httpx.AsyncClient
    container: Container
    key_a: str
    key_b: str

    def as_a(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key_a}"}

    def as_b(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key_b}"}


async def make_api(
    fresh_database: str,
    clock: Clock,
    embedder: SentenceTransformerEmbedder,
    **api: object,
) -> AsyncIterator[Api]:
    settings = Settings.model_validate(
        {
            "database_url": fresh_database,
            "api": {"admin_key": ADMIN, **api},
            "reflection": {"extraction": "rules"},
        }
    )
    container = await build_container(settings, clock=clock, embedder=embedder)
    app = create_app(container=container)
    transport = httpx.ASGITransport(app=app)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        ):
            a = await client.post("/v1/tenants", json={"id": "acme"}, headers=admin)
            b = await client.post("/v1/tenants", json={"id": "globex"}, headers=admin)
            yield Api(client, container, a.json()["api_key"], b.json()["api_key"])
    finally:
        await container.close()


def problem_of(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status and body["detail"]
    return body
