"""The HTTP clients cover the REST API: every operation in the OpenAPI document has a method
in the async client and in the sync one; the sync client works against a real `memstrata
serve`; a request that is safe to repeat is retried after a 429 (as Retry-After says), one
that is not is not; errors are the library's own."""

import asyncio
import re
import uuid

import pytest

from memory.core.errors import Conflict, InvalidInput, NotFound
from memory.core.settings import Settings
from memory.infra.embedder import SentenceTransformerEmbedder
from service.api import create_app
from service.client import OPERATIONS, ApiError, MemstrataClient, SyncMemstrataClient
from tests.api_harness import make_api
from tests.conftest import TravelClock
from tests.services import ADMIN, Serve, Service


def _route_name(operation_id: str, path: str, method: str) -> str | None:
    """The route (function) name FastAPI made `operation_id` from, among the known ones."""
    for name in OPERATIONS:
        if re.sub(r"\W", "_", f"{name}{path}") + f"_{method}" == operation_id:
            return name
    return None


def test_every_operation_has_a_method_in_both_clients() -> None:
    spec = create_app(Settings()).openapi()
    operations = [
        (method, path, operation["operationId"])
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 40, "the OpenAPI document lost its operations"
    missing = []
    for method, path, operation_id in operations:
        name = _route_name(operation_id, path, method)
        method_name = OPERATIONS.get(name or "")
        if not (
            method_name
            and hasattr(MemstrataClient, method_name)
            and hasattr(SyncMemstrataClient, method_name)
        ):
            missing.append(f"{method.upper()} {path}")
    assert missing == [], "operations without a client method"


def _a_day_with_the_sync_client(service: Service) -> None:
    with SyncMemstrataClient(service.url, ADMIN) as admin:
        key = admin.create_tenant("daytime").api_key
        assert [k.name for k in admin.tenant_keys("daytime")] == ["default"]
    with SyncMemstrataClient(service.url, key) as client:
        assert client.health()["database"] == "ok" and client.alive()
        sid = str(uuid.uuid4())
        sent = client.append("ana", sid, "user", "I work as a nurse in Porto.", device_id="phone")
        batch = client.append_batch(
            "ana",
            sid,
            [{"role": "assistant", "content": "Noted."}, {"role": "user", "content": "Thanks"}],
        )
        assert [m.seq for m in batch.messages] == [2, 3] and sent.message.seq == 1
        state = client.session("ana", sid)
        state = client.update_session("ana", sid, state.version, topic="work")
        with pytest.raises(Conflict):  # a stale version, as the library would say
            client.update_session("ana", sid, state.version - 1, topic="x")
        assert [m.content for m in client.transcript("ana", sid)] == [
            "I work as a nurse in Porto.",
            "Noted.",
            "Thanks",
        ]
        assert client.messages("ana", [str(sent.message.id)])[0].seq == 1
        assert client.end_session("ana", sid).status == "hard_expired"
        service_output = asyncio.run(service.worker_once())
        assert "error" not in service_output.lower() or "0 failed" in service_output.lower()
        facts = client.facts("ana")
        assert any("nurse" in f.text for f in facts)
        assert client.session_facts("ana", sid)
        assert client.summaries("ana") and client.journal("ana") is not None
        assert client.journal_versions("ana") and client.journal_version("ana", 1).version == 1
        assert [u.id for u in client.users()] == ["ana"] and client.sessions("ana")
        assert client.runs("ana") and client.knowledge("ana") == []
        assert client.recall("ana", "where does she work?", k=3)
        assert client.resume("ana", "hello").mode in {"full_restore", "primed", "fresh"}
        pinned = client.remember("ana", "preference", "Prefers short answers", pinned=True)
        fixed = client.correct("ana", str(pinned.id), "Prefers very short answers")
        assert client.unpin("ana", str(fixed.id)).pinned is False
        assert client.pin("ana", str(fixed.id)).pinned is True
        client.delete_fact("ana", str(fixed.id))
        with pytest.raises(NotFound):
            client.delete_fact("ana", str(fixed.id))
        with pytest.raises(InvalidInput):
            client.remember("ana", "mood", "happy")
        assert client.tenant_settings().lifecycle.retention_s > 0
        made = client.add_my_key("ci")
        assert client.change_my_key(made.key_id, name="nightly").name == "nightly"
        client.revoke_my_key(made.key_id)
        rows = list(client.export("ana"))
        assert rows[-1]["tier"] == "end" and rows[-1]["rows"]["message"] == 3
        client.forget("ana")
        assert client.facts("ana") == []


async def test_the_sync_client_against_a_real_serve(serve: Serve, fresh_database: str) -> None:
    service, _ = await serve(fresh_database)
    # The sync client blocks: it runs off this test's event loop.
    await asyncio.to_thread(_a_day_with_the_sync_client, service)


async def test_safe_requests_are_retried_after_a_429_and_others_are_not(
    fresh_database: str, clock: TravelClock, embedder: SentenceTransformerEmbedder
) -> None:
    async for api in make_api(fresh_database, clock, embedder, rate_burst=2, rate_per_s=1.0):
        transport = api.client._transport  # the same app, in process
        remote = MemstrataClient("http://t", api.key_a, transport=transport)
        try:
            for _ in range(3):  # the key's burst, used up
                await api.client.get("/v1/users/ana/facts", headers=api.as_a())
            with pytest.raises(ApiError) as refused:  # not safe to repeat: not retried
                await remote.correct("ana", str(uuid.uuid4()), "x")
            assert refused.value.status == 429 and refused.value.code == "rate_limited"
            assert await remote.facts("ana") == []  # a read waits out its 429, then answers
        finally:
            await remote.close()
