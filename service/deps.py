"""Request dependencies: each service of the container (a route depends on the one it
uses), the tenant an API key is bound to, the admin, and the scope of a request (the key's
tenant and a tenant-local user id)."""

import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request

from memory.core.domain import Scope, external_id
from memory.stores.api_keys import ApiKeyStore
from memory.stores.facts import FactStore
from memory.stores.history import History
from memory.stores.journal import JournalStore
from memory.stores.knowledge import KnowledgeStore
from memory.stores.labels import Labels
from memory.stores.recall import Recall
from memory.stores.sessions import Sessions
from memory.stores.summaries import SummaryStore
from memory.stores.tenants import TenantStore
from memory.stores.transcripts import TranscriptStore
from memory.stores.users import UserRecords
from reflection.curation import Curation
from reflection.ledger import Ledger
from resume.context import Resumer
from service.container import Container
from service.problems import Forbidden, Unauthorized


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def _part(name: str) -> Any:
    """A dependency on one service of the container: a route names the one it uses."""

    def get(request: Request) -> Any:
        return getattr(request.app.state.container, name)

    get.__name__ = name
    return Depends(get)


ApiKeysDep = Annotated[ApiKeyStore, _part("api_keys")]
TenantsDep = Annotated[TenantStore, _part("tenants")]
SessionsDep = Annotated[Sessions, _part("sessions")]
TranscriptsDep = Annotated[TranscriptStore, _part("transcripts")]
FactsDep = Annotated[FactStore, _part("facts")]
KnowledgeDep = Annotated[KnowledgeStore, _part("knowledge")]
SummariesDep = Annotated[SummaryStore, _part("summaries")]
JournalDep = Annotated[JournalStore, _part("journal")]
RecallDep = Annotated[Recall, _part("recall")]
ResumerDep = Annotated[Resumer, _part("resumer")]
HistoryDep = Annotated[History, _part("history")]
RecordsDep = Annotated[UserRecords, _part("records")]
LedgerDep = Annotated[Ledger, _part("ledger")]
CurationDep = Annotated[Curation, _part("curation")]
LabelsDep = Annotated[Labels, _part("labels")]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, the scheme in any case and
    surrounding whitespace ignored; None without a usable one."""
    parts = (authorization or "").split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1].strip() or None


def _bearer(authorization: str | None) -> str:
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("send 'Authorization: Bearer <api key>'")
    return token


@dataclass(frozen=True)
class Caller:
    """Who is asking: the tenant every read and write is bound to, and the actor the ledger
    names for a change made by hand ("key:<id>", or "local" without authentication)."""

    tenant_id: str
    actor: str


async def resolve_caller(c: Container, authorization: str | None) -> Caller:
    """The caller an `Authorization` header names (`Unauthorized` without a live key); the
    REST routes and `/mcp` both ask this."""
    if not c.settings.api.auth:
        return Caller("local", "local")
    found = await c.api_keys.resolve(_bearer(authorization))
    if found is None:
        raise Unauthorized("unknown or revoked API key")
    return Caller(found[0], f"key:{found[1]}")


async def caller(c: ContainerDep, authorization: Annotated[str | None, Header()] = None) -> Caller:
    return await resolve_caller(c, authorization)


CallerDep = Annotated[Caller, Depends(caller)]


async def tenant(who: CallerDep) -> str:
    """The tenant of the presented key; every read and write of the request is bound to it."""
    return who.tenant_id


TenantDep = Annotated[str, Depends(tenant)]


async def admin(c: ContainerDep, authorization: Annotated[str | None, Header()] = None) -> None:
    configured = c.settings.api.admin_key
    presented = _bearer(authorization)
    if configured is None or not hmac.compare_digest(presented, configured.get_secret_value()):
        raise Forbidden("this needs the admin key (MEMSTRATA_API__ADMIN_KEY)")


async def scope(tenant_id: TenantDep, user_id: Annotated[str, Path()]) -> Scope:
    return Scope(tenant_id, external_id(user_id, "user_id"))


ScopeDep = Annotated[Scope, Depends(scope)]
