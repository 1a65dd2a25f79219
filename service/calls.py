"""Every REST operation as a request and the parse of its answer — built once, sent by the
async client and by the sync one (`service.client`). A builder knows the method, the path,
the query, the body, the headers and the model of the answer; it does no I/O.

Names follow the routes (`service/routes*.py`), so a test can check that every operation
the OpenAPI document lists has a builder and a method in both clients."""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import TypeAdapter

from memory.core.session_state import SessionState
from service import schemas

T = TypeVar("T")


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read its answer (`parse` gets the decoded JSON, None for a
    204). `retry_safe`: sending it twice does what sending it once does (a read, a PUT or
    DELETE, or a POST that carries an idempotency key)."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_safe: bool = False


def _model(kind: Any) -> Callable[[Any], Any]:
    adapter: TypeAdapter[Any] = TypeAdapter(kind)
    return adapter.validate_python


def _none(_: Any) -> None:
    return None


def _u(user_id: str) -> str:
    return f"/v1/users/{quote(user_id, safe='')}"


def _s(user_id: str, session_id: str) -> str:
    return f"{_u(user_id)}/sessions/{quote(str(session_id), safe='')}"


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _json(value: dict[str, Any] | None) -> str | None:
    """A metadata filter as a query parameter carries it."""
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _get(path: str, answer: Any, **params: Any) -> Call[Any]:
    query = {k: v for k, v in params.items() if v is not None}
    return Call("GET", path, _model(answer), params=query, retry_safe=True)


# --- tenants and keys -------------------------------------------------------------------


def create_tenant(
    tenant_id: str, key_name: str = "default", expires_at: datetime | None = None
) -> Call[schemas.TenantKey]:
    body = {"id": tenant_id, "key_name": key_name, "expires_at": _when(expires_at)}
    return Call("POST", "/v1/tenants", _model(schemas.TenantKey), json=body)


def tenant_settings() -> Call[schemas.TenantSettingsOut]:
    return _get("/v1/tenant/settings", schemas.TenantSettingsOut)


def set_tenant_settings(**sections: dict[str, Any] | None) -> Call[schemas.TenantSettingsOut]:
    body = schemas.TenantSettingsIn.model_validate(sections).model_dump()
    return Call(
        "PUT", "/v1/tenant/settings", _model(schemas.TenantSettingsOut), json=body, retry_safe=True
    )


def my_keys() -> Call[list[schemas.KeyOut]]:
    return _get("/v1/tenant/keys", list[schemas.KeyOut])


def add_my_key(
    name: str = "default", expires_at: datetime | None = None
) -> Call[schemas.TenantKey]:
    body = {"name": name, "expires_at": _when(expires_at)}
    return Call("POST", "/v1/tenant/keys", _model(schemas.TenantKey), json=body)


def change_my_key(
    key_id: uuid.UUID | str,
    *,
    name: str | None = None,
    expires_at: datetime | None = None,
    never_expires: bool = False,
) -> Call[schemas.KeyOut]:
    body = {"name": name, "expires_at": _when(expires_at), "never_expires": never_expires}
    return Call(
        "PATCH", f"/v1/tenant/keys/{key_id}", _model(schemas.KeyOut), json=body, retry_safe=True
    )


def revoke_my_key(key_id: uuid.UUID | str) -> Call[None]:
    return Call("DELETE", f"/v1/tenant/keys/{key_id}", _none)


def tenant_keys(tenant_id: str) -> Call[list[schemas.KeyOut]]:
    return _get(f"/v1/tenants/{quote(tenant_id, safe='')}/keys", list[schemas.KeyOut])


def add_tenant_key(
    tenant_id: str, name: str = "default", expires_at: datetime | None = None
) -> Call[schemas.TenantKey]:
    body = {"name": name, "expires_at": _when(expires_at)}
    path = f"/v1/tenants/{quote(tenant_id, safe='')}/keys"
    return Call("POST", path, _model(schemas.TenantKey), json=body)


def change_tenant_key(
    tenant_id: str,
    key_id: uuid.UUID | str,
    *,
    name: str | None = None,
    expires_at: datetime | None = None,
    never_expires: bool = False,
) -> Call[schemas.KeyOut]:
    body = {"name": name, "expires_at": _when(expires_at), "never_expires": never_expires}
    path = f"/v1/tenants/{quote(tenant_id, safe='')}/keys/{key_id}"
    return Call("PATCH", path, _model(schemas.KeyOut), json=body, retry_safe=True)


def revoke_tenant_key(tenant_id: str, key_id: uuid.UUID | str) -> Call[None]:
    return Call("DELETE", f"/v1/tenants/{quote(tenant_id, safe='')}/keys/{key_id}", _none)


# --- sessions and messages --------------------------------------------------------------


def append_message(
    user_id: str,
    session_id: str,
    role: str,
    content: str,
    *,
    idempotency_key: str | None = None,
    device_id: str | None = None,
    takeover: bool = False,
    at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
    thread: str | None = None,
    session_metadata: dict[str, Any] | None = None,
) -> Call[schemas.Appended]:
    """An idempotency key is made when none is given, so that a retry never appends twice.
    `thread` and `session_metadata` are used when this message opens the session."""
    key = idempotency_key or f"client:{uuid.uuid4()}"
    body: dict[str, Any] = {"role": role, "content": content, "device_id": device_id}
    body |= {"takeover": takeover, "at": _when(at), "thread": thread}
    body |= {"metadata": metadata, "session_metadata": session_metadata}
    return Call(
        "POST",
        f"{_s(user_id, session_id)}/messages",
        _model(schemas.Appended),
        json=body,
        headers={"Idempotency-Key": key},
        retry_safe=True,
    )


def append_messages(
    user_id: str,
    session_id: str,
    messages: list[dict[str, Any]],
    *,
    device_id: str | None = None,
    takeover: bool = False,
    thread: str | None = None,
    session_metadata: dict[str, Any] | None = None,
) -> Call[schemas.BatchAppended]:
    """Each message without an `idempotency_key` is given one, so that a retry of the batch
    appends nothing twice."""
    keyed = [{"idempotency_key": f"client:{uuid.uuid4()}", **m} for m in messages]
    body = schemas.NewMessages.model_validate(
        {
            "messages": keyed,
            "device_id": device_id,
            "takeover": takeover,
            "thread": thread,
            "session_metadata": session_metadata,
        }
    ).model_dump(mode="json")
    path = f"{_s(user_id, session_id)}/messages/batch"
    return Call("POST", path, _model(schemas.BatchAppended), json=body, retry_safe=True)


def read_session(user_id: str, session_id: str) -> Call[SessionState]:
    return _get(_s(user_id, session_id), SessionState)


def update_session(
    user_id: str, session_id: str, version: int, **changes: Any
) -> Call[SessionState]:
    body = schemas.StateChange.model_validate(changes).model_dump(mode="json", exclude_unset=True)
    headers = {"If-Match": f'"{version}"'}
    return Call("PATCH", _s(user_id, session_id), _model(SessionState), json=body, headers=headers)


def complete_task(user_id: str, session_id: str, version: int) -> Call[SessionState]:
    headers = {"If-Match": f'"{version}"'}
    path = f"{_s(user_id, session_id)}/complete-task"
    return Call("POST", path, _model(SessionState), headers=headers)


def end_session(user_id: str, session_id: str) -> Call[SessionState]:
    path = f"{_s(user_id, session_id)}/end"
    return Call("POST", path, _model(SessionState), retry_safe=True)


def open_session(
    user_id: str,
    session_id: str,
    device_id: str,
    *,
    takeover: bool = False,
    thread: str | None = None,
) -> Call[SessionState]:
    body = {"device_id": device_id, "takeover": takeover, "thread": thread}
    path = f"{_s(user_id, session_id)}/open"
    return Call("POST", path, _model(SessionState), json=body, retry_safe=True)


def read_transcript(
    user_id: str,
    session_id: str,
    *,
    after_seq: int = 0,
    limit: int = 100,
    metadata: dict[str, Any] | None = None,
) -> Call[list[schemas.MessageOut]]:
    path = f"{_s(user_id, session_id)}/messages"
    answer = list[schemas.MessageOut]
    return _get(path, answer, after_seq=after_seq, limit=limit, metadata=_json(metadata))


def set_session_metadata(
    user_id: str, session_id: str, metadata: dict[str, Any]
) -> Call[SessionState]:
    path = f"{_s(user_id, session_id)}/metadata"
    body = {"metadata": metadata}
    return Call("PUT", path, _model(SessionState), json=body, retry_safe=True)


def session_facts(user_id: str, session_id: str) -> Call[list[schemas.FactOut]]:
    return _get(f"{_s(user_id, session_id)}/facts", list[schemas.FactOut])


def messages_by_id(user_id: str, ids: list[str]) -> Call[list[schemas.MessageOut]]:
    return _get(f"{_u(user_id)}/messages", list[schemas.MessageOut], id=ids)


# --- the user's history and tiers ---------------------------------------------------------


def list_users(
    *, limit: int = 200, metadata: dict[str, Any] | None = None
) -> Call[list[schemas.UserOut]]:
    return _get("/v1/users", list[schemas.UserOut], limit=limit, metadata=_json(metadata))


def read_user(user_id: str) -> Call[schemas.UserOut]:
    return _get(_u(user_id), schemas.UserOut)


def set_user_metadata(user_id: str, metadata: dict[str, Any]) -> Call[schemas.UserOut]:
    body = {"metadata": metadata}
    path = f"{_u(user_id)}/metadata"
    return Call("PUT", path, _model(schemas.UserOut), json=body, retry_safe=True)


def list_sessions(
    user_id: str,
    *,
    limit: int = 200,
    thread: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Call[list[schemas.SessionOverviewOut]]:
    return _get(
        f"{_u(user_id)}/sessions",
        list[schemas.SessionOverviewOut],
        limit=limit,
        thread=thread,
        metadata=_json(metadata),
    )


def list_threads(user_id: str, *, limit: int = 200) -> Call[list[schemas.ThreadOut]]:
    return _get(f"{_u(user_id)}/threads", list[schemas.ThreadOut], limit=limit)


def list_runs(user_id: str, *, limit: int = 50) -> Call[list[schemas.RunOut]]:
    return _get(f"{_u(user_id)}/runs", list[schemas.RunOut], limit=limit)


def resume(
    user_id: str,
    message: str | None = None,
    *,
    device_id: str | None = None,
    budget_tokens: int | None = None,
    now: datetime | None = None,
    thread: str | None = None,
) -> Call[schemas.ResumeOut]:
    body = {"message": message, "device_id": device_id, "budget_tokens": budget_tokens}
    body |= {"now": _when(now), "thread": thread}
    path = f"{_u(user_id)}/resume"
    return Call("POST", path, _model(schemas.ResumeOut), json=body, retry_safe=True)


def recall(user_id: str, query: str, k: int = 10, **filters: Any) -> Call[list[schemas.HitOut]]:
    times = {n: _when(v) for n, v in filters.items() if isinstance(v, datetime)}
    body = {"query": query, "k": k, **filters, **times}
    path = f"{_u(user_id)}/recall"
    return Call("POST", path, _model(list[schemas.HitOut]), json=body, retry_safe=True)


def list_facts(
    user_id: str,
    *,
    kinds: list[str] | None = None,
    as_of: datetime | None = None,
    include_superseded: bool = False,
    limit: int = 100,
    thread: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Call[list[schemas.FactOut]]:
    return _get(
        f"{_u(user_id)}/facts",
        list[schemas.FactOut],
        kind=kinds,
        as_of=_when(as_of),
        include_superseded=include_superseded,
        limit=limit,
        thread=thread,
        metadata=_json(metadata),
    )


def list_knowledge(
    user_id: str, *, include_retired: bool = False, limit: int = 100
) -> Call[list[schemas.KnowledgeOut]]:
    path = f"{_u(user_id)}/knowledge"
    return _get(path, list[schemas.KnowledgeOut], include_retired=include_retired, limit=limit)


def list_summaries(user_id: str, *, limit: int = 20) -> Call[list[schemas.SummaryOut]]:
    return _get(f"{_u(user_id)}/summaries", list[schemas.SummaryOut], limit=limit)


def latest_journal(user_id: str) -> Call[schemas.JournalOut | None]:
    return _get(f"{_u(user_id)}/journal", schemas.JournalOut | None)


def journal_versions(user_id: str, *, limit: int = 50) -> Call[list[schemas.JournalOut]]:
    return _get(f"{_u(user_id)}/journal/versions", list[schemas.JournalOut], limit=limit)


def journal_version(user_id: str, version: int) -> Call[schemas.JournalOut]:
    return _get(f"{_u(user_id)}/journal/versions/{int(version)}", schemas.JournalOut)


def forget_user(user_id: str) -> Call[None]:
    return Call("DELETE", _u(user_id), _none, retry_safe=True)


def export_user(user_id: str) -> Call[None]:
    """The export streams JSON lines: the clients read it line by line (`export`)."""
    return Call("GET", f"{_u(user_id)}/export", _none, retry_safe=True)


# --- single memories --------------------------------------------------------------------


def remember(
    user_id: str, kind: str, text: str, *, importance: float = 0.8, pinned: bool = False
) -> Call[schemas.FactOut]:
    body = {"kind": kind, "text": text, "importance": importance, "pinned": pinned}
    return Call("POST", f"{_u(user_id)}/facts", _model(schemas.FactOut), json=body, retry_safe=True)


def correct(
    user_id: str,
    fact_id: uuid.UUID | str,
    text: str,
    *,
    kind: str | None = None,
    importance: float | None = None,
) -> Call[schemas.FactOut]:
    body = {"text": text, "kind": kind, "importance": importance}
    path = f"{_u(user_id)}/facts/{fact_id}/correction"
    return Call("POST", path, _model(schemas.FactOut), json=body)


def delete_fact(user_id: str, fact_id: uuid.UUID | str) -> Call[None]:
    return Call("DELETE", f"{_u(user_id)}/facts/{fact_id}", _none)


def pin(user_id: str, fact_id: uuid.UUID | str) -> Call[schemas.FactOut]:
    path = f"{_u(user_id)}/facts/{fact_id}/pin"
    return Call("PUT", path, _model(schemas.FactOut), retry_safe=True)


def unpin(user_id: str, fact_id: uuid.UUID | str) -> Call[schemas.FactOut]:
    path = f"{_u(user_id)}/facts/{fact_id}/pin"
    return Call("DELETE", path, _model(schemas.FactOut), retry_safe=True)


def delete_insight(user_id: str, knowledge_id: uuid.UUID | str) -> Call[None]:
    return Call("DELETE", f"{_u(user_id)}/knowledge/{knowledge_id}", _none)


def retract_message(user_id: str, session_id: str) -> Call[schemas.MessageOut | None]:
    """Not retried: a second retraction would take back the message before."""
    path = f"{_s(user_id, session_id)}/messages/last"
    return Call("DELETE", path, _model(schemas.MessageOut | None))


# --- operations -------------------------------------------------------------------------


def ready() -> Call[dict[str, Any]]:
    return _get("/health", dict[str, Any])


def alive() -> Call[dict[str, Any]]:
    return _get("/healthz", dict[str, Any])
