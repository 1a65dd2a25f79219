"""The `/v1` routes: thin — each validates its input, calls the library with the request's
scope (the API key's tenant and a tenant-local user id), and shapes the answer."""

import json
import time
from collections.abc import AsyncIterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from memory.core.errors import InvalidInput, MemstrataError
from memory.core.session_state import SessionState
from service import schemas
from service.deps import (
    ApiKeysDep,
    FactsDep,
    HistoryDep,
    JournalDep,
    KnowledgeDep,
    LedgerDep,
    RecallDep,
    RecordsDep,
    ResumerDep,
    ScopeDep,
    SessionsDep,
    SummariesDep,
    TenantDep,
    TenantsDep,
    TranscriptsDep,
    admin,
)
from service.routes_keys import shown

router = APIRouter(prefix="/v1")
SESSION = "/users/{user_id}/sessions/{session_id}"
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
Limit = Annotated[int, Query(ge=1, le=1000)]
# Filters of the lists: a thread's name, and metadata as JSON text ({"app": "mobile"}) that
# the listed item's metadata must contain.
ThreadQuery = Annotated[str | None, Query(min_length=1, max_length=128)]
MetadataQuery = Annotated[str | None, Query(max_length=8192)]


@contextmanager
def timed(request: Request, operation: str) -> Any:
    started = time.perf_counter()
    yield
    request.app.state.metrics.operations.labels(operation).observe(time.perf_counter() - started)


def expected_version(if_match: str | None) -> int:
    value = (if_match or "").strip().strip('"')
    if not value.isdigit():
        raise InvalidInput("If-Match", 'send the session version you read, e.g. If-Match: "7"')
    return int(value)


def with_etag(response: Response, state: SessionState) -> SessionState:
    response.headers["ETag"] = f'"{state.version}"'
    return state


@router.post("/tenants", status_code=201, dependencies=[Depends(admin)])
async def create_tenant(body: schemas.NewTenant, keys: ApiKeysDep) -> schemas.TenantKey:
    """Create a tenant (or add a key to one) and return its API key, shown only now."""
    return shown(await keys.create(body.id, body.key_name, body.expires_at))


@router.get("/tenant/settings")
async def tenant_settings(tenant_id: TenantDep, tenants: TenantsDep) -> schemas.TenantSettingsOut:
    """This tenant's lifecycle windows, resumption thresholds and extraction choice."""
    return schemas.TenantSettingsOut.model_validate(await tenants.settings(tenant_id))


@router.put("/tenant/settings")
async def set_tenant_settings(
    body: schemas.TenantSettingsIn, tenant_id: TenantDep, tenants: TenantsDep
) -> schemas.TenantSettingsOut:
    """Replace this tenant's overrides, all sections or none (every value is range-checked
    first); every process picks them up within `MEMSTRATA_SESSION__TENANT_CACHE_S`, without
    a restart."""
    await tenants.update(
        tenant_id,
        lifecycle=body.lifecycle,
        resumption=body.resumption,
        reflection=body.reflection,
    )
    return await tenant_settings(tenant_id, tenants)


@router.post(SESSION + "/messages", status_code=201)
async def append_message(
    session_id: str,
    body: schemas.NewMessage,
    scope: ScopeDep,
    sessions: SessionsDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> schemas.Appended:
    """Commit a message (durable before this answers) and bring the session state along.
    A retry with the same `Idempotency-Key` returns the original message (200)."""
    with timed(request, "append"):
        turn = await sessions.append(
            scope,
            session_id,
            body.role,
            body.content,
            idempotency_key=idempotency_key,
            device_id=body.device_id,
            takeover=body.takeover,
            at=body.at,
            metadata=body.metadata,
            thread=body.thread,
            session_metadata=body.session_metadata,
        )
    if turn.replayed:
        response.status_code = 200
    return schemas.Appended(
        message=schemas.MessageOut.of(turn.message),
        session_version=turn.state.version,
        replayed=turn.replayed,
        session_status=turn.state.status,
        ended_reason=turn.state.ended_reason,
    )


@router.post(SESSION + "/messages/batch", status_code=201)
async def append_messages(
    session_id: str,
    body: schemas.NewMessages,
    scope: ScopeDep,
    sessions: SessionsDep,
    request: Request,
    response: Response,
) -> schemas.BatchAppended:
    """Commit several messages of the session in one transaction (all or none, in order;
    each idempotent on its `idempotency_key`) and bring the session state along once. A
    retry of the whole batch answers 200 with every message as stored."""
    items = body.turns()
    with timed(request, "append"):
        turns = await sessions.append_batch(
            scope,
            session_id,
            items,
            device_id=body.device_id,
            takeover=body.takeover,
            thread=body.thread,
            session_metadata=body.session_metadata,
        )
    if all(t.replayed for t in turns):
        response.status_code = 200
    return schemas.BatchAppended.of(turns)


@router.get(SESSION)
async def read_session(
    session_id: str, scope: ScopeDep, sessions: SessionsDep, response: Response
) -> SessionState:
    """The session's hot state; its `version` is also the ETag."""
    return with_etag(response, await sessions.state(scope, session_id))


@router.patch(SESSION)
async def update_session(
    session_id: str,
    body: schemas.StateChange,
    scope: ScopeDep,
    sessions: SessionsDep,
    response: Response,
    if_match: IfMatch = None,
) -> SessionState:
    """Change the topic, entities, open questions, active task or totals; `If-Match` names
    the version read, and a stale one answers 409."""
    changes = body.model_dump(exclude_unset=True)
    state = await sessions.update(scope, session_id, expected_version(if_match), **changes)
    return with_etag(response, state)


@router.post(SESSION + "/complete-task")
async def complete_task(
    session_id: str,
    scope: ScopeDep,
    sessions: SessionsDep,
    response: Response,
    if_match: IfMatch = None,
) -> SessionState:
    state = await sessions.complete_task(scope, session_id, expected_version(if_match))
    return with_etag(response, state)


@router.post(SESSION + "/end")
async def end_session(
    session_id: str, scope: ScopeDep, sessions: SessionsDep, response: Response
) -> SessionState:
    """The conversation is over (the user closed it): the session ends now, and the
    worker's next pass summarizes it and adds it to the journal. Idempotent."""
    return with_etag(response, await sessions.end(scope, session_id))


@router.post(SESSION + "/open")
async def open_session(
    session_id: str,
    body: schemas.DeviceIn,
    scope: ScopeDep,
    sessions: SessionsDep,
    response: Response,
) -> SessionState:
    """Continue a session on a device; 409 `other_device_active` unless `takeover`."""
    state = await sessions.open(
        scope, body.device_id, session_id, takeover=body.takeover, thread=body.thread
    )
    return with_etag(response, state)


@router.get("/users")
async def list_users(
    tenant_id: TenantDep, history: HistoryDep, limit: Limit = 200, metadata: MetadataQuery = None
) -> list[schemas.UserOut]:
    """The tenant's users, most recently active first; with `metadata` (JSON), those whose
    metadata contains it."""
    found = await history.users(tenant_id, limit, metadata=metadata)
    return [schemas.UserOut.model_validate(u) for u in found]


@router.get("/users/{user_id}/sessions")
async def list_sessions(
    scope: ScopeDep,
    history: HistoryDep,
    limit: Limit = 200,
    thread: ThreadQuery = None,
    metadata: MetadataQuery = None,
) -> list[schemas.SessionOverviewOut]:
    """The user's sessions, most recently active first: status, turns, how many messages
    are still retained, and the session's summary once it has ended; of one `thread`, and
    whose metadata contains `metadata` (JSON), if given."""
    found = await history.sessions(scope, limit, thread=thread, metadata=metadata)
    return [schemas.SessionOverviewOut.model_validate(s) for s in found]


@router.get(SESSION + "/messages")
async def read_transcript(
    session_id: str,
    scope: ScopeDep,
    transcripts: TranscriptsDep,
    after_seq: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Limit = 100,
    metadata: MetadataQuery = None,
) -> list[schemas.MessageOut]:
    """The session's retained messages after `after_seq`, oldest first; with `metadata`
    (JSON), those whose metadata contains it."""
    messages = await transcripts.after(scope, session_id, after_seq, limit=limit, metadata=metadata)
    return [schemas.MessageOut.of(m) for m in messages]


@router.get(SESSION + "/facts")
async def session_facts(session_id: str, scope: ScopeDep, facts: FactsDep) -> list[schemas.FactOut]:
    """The facts extracted from this session, current or superseded since."""
    found = await facts.from_session(scope, session_id)
    return [schemas.FactOut.model_validate(f) for f in found]


@router.get("/users/{user_id}/messages")
async def messages_by_id(
    scope: ScopeDep,
    transcripts: TranscriptsDep,
    message_id: Annotated[list[str], Query(alias="id", max_length=100)],
) -> list[schemas.MessageOut]:
    """Messages by id (as recall provenance cites them); unknown ids are left out."""
    return [schemas.MessageOut.of(m) for m in await transcripts.get_many(scope, message_id)]


@router.get("/users/{user_id}/runs")
async def list_runs(scope: ScopeDep, ledger: LedgerDep, limit: Limit = 50) -> list[schemas.RunOut]:
    """The user's latest job runs from the ledger: kind, status, tokens, wall time, error."""
    return [schemas.RunOut.model_validate(r) for r in await ledger.recent(scope, limit)]


@router.post("/users/{user_id}/resume")
async def resume(
    body: schemas.ResumeIn, scope: ScopeDep, resumer: ResumerDep, request: Request
) -> schemas.ResumeOut:
    """How this user's conversation resumes, with the messages to put in the prompt."""
    with timed(request, "resume"):
        context = await resumer.resume(
            scope, body.message, body.device_id, body.now, body.budget_tokens, body.thread
        )
    return schemas.ResumeOut.model_validate(context)


@router.post("/users/{user_id}/recall")
async def recall(
    body: schemas.RecallIn, scope: ScopeDep, recall: RecallDep, request: Request
) -> list[schemas.HitOut]:
    with timed(request, "recall"):
        hits = await recall.recall(
            scope,
            body.query,
            body.k,
            tiers=body.tiers,
            kinds=body.kinds,
            since=body.since,
            until=body.until,
            as_of=body.as_of,
            thread=body.thread,
            metadata=body.metadata,
            session_metadata=body.session_metadata,
        )
    return [schemas.HitOut.model_validate(hit) for hit in hits]


@router.get("/users/{user_id}/facts")
async def list_facts(
    scope: ScopeDep,
    facts: FactsDep,
    kind: Annotated[list[str] | None, Query()] = None,
    as_of: datetime | None = None,
    include_superseded: bool = False,
    limit: Limit = 100,
    thread: ThreadQuery = None,
    metadata: MetadataQuery = None,
) -> list[schemas.FactOut]:
    """The user's facts (current, or `as_of`, or with the superseded); of kinds, of one
    thread, or said in messages whose metadata contains `metadata` (JSON)."""
    found = await facts.list_facts(
        scope,
        kinds=kind,
        as_of=as_of,
        include_superseded=include_superseded,
        limit=limit,
        thread=thread,
        metadata=metadata,
    )
    return [schemas.FactOut.model_validate(f) for f in found]


@router.get("/users/{user_id}/knowledge")
async def list_knowledge(
    scope: ScopeDep, knowledge: KnowledgeDep, include_retired: bool = False, limit: Limit = 100
) -> list[schemas.KnowledgeOut]:
    items = await knowledge.list_knowledge(scope, include_retired=include_retired, limit=limit)
    return [schemas.KnowledgeOut.model_validate(k) for k in items]


@router.get("/users/{user_id}/summaries")
async def list_summaries(
    scope: ScopeDep, summaries: SummariesDep, limit: Limit = 20
) -> list[schemas.SummaryOut]:
    found = await summaries.latest(scope, limit=limit)
    return [schemas.SummaryOut.model_validate(s) for s in found]


@router.get("/users/{user_id}/journal")
async def latest_journal(scope: ScopeDep, journal: JournalDep) -> schemas.JournalOut | None:
    entry = await journal.latest(scope)
    return None if entry is None else schemas.JournalOut.model_validate(entry)


@router.get("/users/{user_id}/journal/versions")
async def journal_versions(
    scope: ScopeDep, journal: JournalDep, limit: Limit = 50
) -> list[schemas.JournalOut]:
    found = await journal.versions(scope, limit=limit)
    return [schemas.JournalOut.model_validate(e) for e in found]


@router.get("/users/{user_id}/journal/versions/{version}")
async def journal_version(
    version: Annotated[int, Path(ge=1, le=2**31 - 1)], scope: ScopeDep, journal: JournalDep
) -> schemas.JournalOut:
    return schemas.JournalOut.model_validate(await journal.get(scope, version))


@router.delete("/users/{user_id}", status_code=204)
async def forget_user(scope: ScopeDep, records: RecordsDep) -> Response:
    """Forget the user: every tier, the hot state and the run ledger. Nothing of them is
    readable afterwards; idempotent."""
    await records.forget(scope)
    return Response(status_code=204)


@router.get(
    "/users/{user_id}/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "JSON lines, one row each",
            "content": {"application/x-ndjson": {"schema": schemas.ExportLine.model_json_schema()}},
        }
    },
)
async def export_user(scope: ScopeDep, records: RecordsDep) -> StreamingResponse:
    """Every tier of the user as JSON lines, each with `tier` saying which: session,
    message, fact, knowledge, summary, journal. The last line is
    `{"tier": "end", "rows": {"session": 2, "message": 40, ...}}`; an export without it is
    incomplete. A problem known before the first line (a row sealed with a key the service
    lacks: 503) is a problem+json answer. One that happens later is a last line
    `{"tier": "error", "code": ..., "detail": ...}`, after which the connection is dropped
    (the chunked body is never terminated, so HTTP clients report it too)."""
    rows = records.export(scope)
    first = await anext(rows)  # the key check runs here, before the answer starts

    def line(row: dict[str, Any]) -> bytes:
        return (json.dumps(row, ensure_ascii=False) + "\n").encode()

    async def lines() -> AsyncIterator[bytes]:
        try:
            yield line(first)
            async for row in rows:
                yield line(row)
        except Exception as exc:  # the answer has started: say why it stops, then abort
            code = exc.code if isinstance(exc, MemstrataError) else "internal_error"
            detail = exc.message if isinstance(exc, MemstrataError) else "an unexpected error"
            yield line({"tier": "error", "code": code, "detail": detail})
            raise

    return StreamingResponse(lines(), media_type="application/x-ndjson")
