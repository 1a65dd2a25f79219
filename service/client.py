"""The HTTP clients: `MemstrataClient` (async) and `SyncMemstrataClient` talk to a running
service over httpx, every REST operation a method, each request built once in
`service.calls`. They answer with the models the REST API publishes (`service.schemas`)
and raise the library's errors; `service.local_client.LocalClient` makes the same calls
in-process."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx

from memory.core.crypto import KeyMissing
from memory.core.errors import (
    BackendUnavailable,
    Conflict,
    CorruptState,
    IdempotencyMismatch,
    InvalidInput,
    MemstrataError,
    NotFound,
    OtherDeviceActive,
)
from service import calls
from service.calls import Call
from service.problems import Forbidden, Unauthorized

P = ParamSpec("P")
T = TypeVar("T")


class ApiError(MemstrataError):
    """A problem+json answer from the service. It is also the library's own error of the
    same code (`NotFound`, `Conflict`, `InvalidInput`, …), so the same `except` clauses
    serve the HTTP clients and `LocalClient`."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        MemstrataError.__init__(self, f"{status} {problem.get('title')}: {problem.get('detail')}")
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", "error"))
        self.field = str(problem.get("detail", "")).split(":", 1)[0]


_BY_CODE: dict[str, type[MemstrataError]] = {
    error.code: error
    for error in (
        InvalidInput,
        NotFound,
        Conflict,
        IdempotencyMismatch,
        OtherDeviceActive,
        BackendUnavailable,
        CorruptState,
        KeyMissing,
        Unauthorized,
        Forbidden,
    )
}
_BY_STATUS: dict[int, type[MemstrataError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: InvalidInput,
    503: BackendUnavailable,
}


_CLASSES: dict[str, type[ApiError]] = {}


def _error_class(base: type[MemstrataError]) -> type[ApiError]:
    """`ApiError` that is also `base`: `except NotFound` catches a 404 from the service."""
    if base.__name__ not in _CLASSES:
        _CLASSES[base.__name__] = type(f"Api{base.__name__}", (ApiError, base), {})
    return _CLASSES[base.__name__]


def api_error(status: int, problem: dict[str, Any]) -> ApiError:
    """The answer's error, as an `ApiError` that is also the library's error of its code."""
    base = _BY_CODE.get(str(problem.get("code"))) or _BY_STATUS.get(status)
    return (ApiError if base is None else _error_class(base))(status, problem)


RETRIED_STATUSES = frozenset({429, 502, 503, 504})
MAX_DELAY_S = 30.0


def _delay(attempt: int, response: httpx.Response | None) -> float:
    """How long to wait before retry `attempt` (0-based): the answer's Retry-After if it
    gives one (at most `MAX_DELAY_S`), else 0.2 s doubling."""
    after = "" if response is None else str(response.headers.get("Retry-After", ""))
    if after.replace(".", "", 1).isdigit():
        return min(float(after), MAX_DELAY_S)
    return min(0.2 * 2.0**attempt, MAX_DELAY_S)


def _answer(call: Call[T], response: httpx.Response) -> T:
    if response.status_code >= 400:
        raise api_error(response.status_code, _problem(response))
    return call.parse(None if response.status_code == 204 else response.json())


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if isinstance(problem, dict):
        return problem
    return {
        "title": response.reason_phrase,
        "detail": response.text[:500],
        "status": response.status_code,
    }


def _retry(call: Call[Any], attempt: int, retries: int, response: httpx.Response | None) -> bool:
    if not call.retry_safe or attempt >= retries:
        return False
    return response is None or response.status_code in RETRIED_STATUSES


def _export_rows(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if not line:
            continue
        row: dict[str, Any] = json.loads(line)
        if row.get("tier") == "error":  # the service drops the connection next
            raise api_error(500, {"title": "Export failed", **row})
        yield row


def _async(
    build: Callable[P, Call[T]],
) -> Callable[Concatenate["MemstrataClient", P], Awaitable[T]]:
    async def method(self: "MemstrataClient", /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.send(build(*args, **kwargs))

    method.__name__, method.__doc__ = build.__name__, build.__doc__
    return method


def _sync(build: Callable[P, Call[T]]) -> Callable[Concatenate["SyncMemstrataClient", P], T]:
    def method(self: "SyncMemstrataClient", /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.send(build(*args, **kwargs))

    method.__name__, method.__doc__ = build.__name__, build.__doc__
    return method


class MemstrataClient:
    """The service over HTTP, async (httpx). Every operation of the REST API is a method
    (`calls` builds each request once, for this client and `SyncMemstrataClient`); answers
    are the API's models; errors are `ApiError`s that are also the library's errors. A
    request that is safe to repeat (a read, a PUT or DELETE, an append with its idempotency
    key — made for you when you give none) is retried `retries` times after a connection
    error, a 429, 502, 503 or 504, waiting as Retry-After says or 0.2 s doubling."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 10.0,
        retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=_base(base_url),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
            transport=transport,
        )
        self._retries = retries

    async def send(self, call: Call[T]) -> T:
        """Send one built request (with retries if it is safe to repeat); its answer."""
        for attempt in range(self._retries + 1):
            try:
                response = await self._http.request(
                    call.method, call.path, params=call.params, json=call.json, headers=call.headers
                )
            except httpx.TransportError as exc:
                if not _retry(call, attempt, self._retries, None):
                    raise BackendUnavailable(f"the service did not answer: {exc}") from exc
                await asyncio.sleep(_delay(attempt, None))
                continue
            if not _retry(call, attempt, self._retries, response):
                return _answer(call, response)
            await asyncio.sleep(_delay(attempt, response))
        raise AssertionError("unreachable: the last attempt answers or raises")

    async def export(self, user_id: str) -> AsyncIterator[dict[str, Any]]:
        """The user's rows, the last one `{"tier": "end", "rows": {tier: count}}`; an export
        that fails midway raises `ApiError` with the code of the service's error line."""
        call = calls.export_user(user_id)
        async with self._http.stream("GET", call.path) as response:
            if response.status_code >= 400:
                raise api_error(response.status_code, json.loads(await response.aread()))
            async for line in response.aiter_lines():
                for row in _export_rows([line]):
                    yield row

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "MemstrataClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # Tenants and keys (the admin's with the admin key).
    create_tenant = _async(calls.create_tenant)
    tenant_settings = _async(calls.tenant_settings)
    set_tenant_settings = _async(calls.set_tenant_settings)
    my_keys = _async(calls.my_keys)
    add_my_key = _async(calls.add_my_key)
    change_my_key = _async(calls.change_my_key)
    revoke_my_key = _async(calls.revoke_my_key)
    tenant_keys = _async(calls.tenant_keys)
    add_tenant_key = _async(calls.add_tenant_key)
    change_tenant_key = _async(calls.change_tenant_key)
    revoke_tenant_key = _async(calls.revoke_tenant_key)
    # Sessions and messages.
    append = _async(calls.append_message)
    append_batch = _async(calls.append_messages)
    session = _async(calls.read_session)
    update_session = _async(calls.update_session)
    complete_task = _async(calls.complete_task)
    end_session = _async(calls.end_session)
    open_session = _async(calls.open_session)
    transcript = _async(calls.read_transcript)
    set_session_metadata = _async(calls.set_session_metadata)
    session_facts = _async(calls.session_facts)
    messages = _async(calls.messages_by_id)
    # The user's history and tiers.
    users = _async(calls.list_users)
    user = _async(calls.read_user)
    set_user_metadata = _async(calls.set_user_metadata)
    sessions = _async(calls.list_sessions)
    threads = _async(calls.list_threads)
    runs = _async(calls.list_runs)
    resume = _async(calls.resume)
    recall = _async(calls.recall)
    facts = _async(calls.list_facts)
    knowledge = _async(calls.list_knowledge)
    summaries = _async(calls.list_summaries)
    journal = _async(calls.latest_journal)
    journal_versions = _async(calls.journal_versions)
    journal_version = _async(calls.journal_version)
    forget = _async(calls.forget_user)
    # Single memories.
    remember = _async(calls.remember)
    correct = _async(calls.correct)
    delete_fact = _async(calls.delete_fact)
    pin = _async(calls.pin)
    unpin = _async(calls.unpin)
    delete_insight = _async(calls.delete_insight)
    retract_message = _async(calls.retract_message)
    # Operations.
    health = _async(calls.ready)
    alive = _async(calls.alive)


class SyncMemstrataClient:
    """`MemstrataClient` without async: the same methods, answers, errors and retries,
    over httpx's blocking client."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 10.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=_base(base_url),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
            transport=transport,
        )
        self._retries = retries

    def send(self, call: Call[T]) -> T:
        """Send one built request (with retries if it is safe to repeat); its answer."""
        for attempt in range(self._retries + 1):
            try:
                response = self._http.request(
                    call.method, call.path, params=call.params, json=call.json, headers=call.headers
                )
            except httpx.TransportError as exc:
                if not _retry(call, attempt, self._retries, None):
                    raise BackendUnavailable(f"the service did not answer: {exc}") from exc
                time.sleep(_delay(attempt, None))
                continue
            if not _retry(call, attempt, self._retries, response):
                return _answer(call, response)
            time.sleep(_delay(attempt, response))
        raise AssertionError("unreachable: the last attempt answers or raises")

    def export(self, user_id: str) -> Iterator[dict[str, Any]]:
        """As `MemstrataClient.export`."""
        call = calls.export_user(user_id)
        with self._http.stream("GET", call.path) as response:
            if response.status_code >= 400:
                raise api_error(response.status_code, json.loads(response.read()))
            yield from _export_rows(response.iter_lines())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "SyncMemstrataClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    create_tenant = _sync(calls.create_tenant)
    tenant_settings = _sync(calls.tenant_settings)
    set_tenant_settings = _sync(calls.set_tenant_settings)
    my_keys = _sync(calls.my_keys)
    add_my_key = _sync(calls.add_my_key)
    change_my_key = _sync(calls.change_my_key)
    revoke_my_key = _sync(calls.revoke_my_key)
    tenant_keys = _sync(calls.tenant_keys)
    add_tenant_key = _sync(calls.add_tenant_key)
    change_tenant_key = _sync(calls.change_tenant_key)
    revoke_tenant_key = _sync(calls.revoke_tenant_key)
    append = _sync(calls.append_message)
    append_batch = _sync(calls.append_messages)
    session = _sync(calls.read_session)
    update_session = _sync(calls.update_session)
    complete_task = _sync(calls.complete_task)
    end_session = _sync(calls.end_session)
    open_session = _sync(calls.open_session)
    transcript = _sync(calls.read_transcript)
    set_session_metadata = _sync(calls.set_session_metadata)
    session_facts = _sync(calls.session_facts)
    messages = _sync(calls.messages_by_id)
    users = _sync(calls.list_users)
    user = _sync(calls.read_user)
    set_user_metadata = _sync(calls.set_user_metadata)
    sessions = _sync(calls.list_sessions)
    threads = _sync(calls.list_threads)
    runs = _sync(calls.list_runs)
    resume = _sync(calls.resume)
    recall = _sync(calls.recall)
    facts = _sync(calls.list_facts)
    knowledge = _sync(calls.list_knowledge)
    summaries = _sync(calls.list_summaries)
    journal = _sync(calls.latest_journal)
    journal_versions = _sync(calls.journal_versions)
    journal_version = _sync(calls.journal_version)
    forget = _sync(calls.forget_user)
    remember = _sync(calls.remember)
    correct = _sync(calls.correct)
    delete_fact = _sync(calls.delete_fact)
    pin = _sync(calls.pin)
    unpin = _sync(calls.unpin)
    delete_insight = _sync(calls.delete_insight)
    retract_message = _sync(calls.retract_message)
    health = _sync(calls.ready)
    alive = _sync(calls.alive)


# The client method of each REST operation (by the route's name), for both HTTP clients.
OPERATIONS = {
    "create_tenant": "create_tenant",
    "tenant_settings": "tenant_settings",
    "set_tenant_settings": "set_tenant_settings",
    "my_keys": "my_keys",
    "add_my_key": "add_my_key",
    "change_my_key": "change_my_key",
    "revoke_my_key": "revoke_my_key",
    "tenant_keys": "tenant_keys",
    "add_tenant_key": "add_tenant_key",
    "change_tenant_key": "change_tenant_key",
    "revoke_tenant_key": "revoke_tenant_key",
    "append_message": "append",
    "append_messages": "append_batch",
    "read_session": "session",
    "update_session": "update_session",
    "complete_task": "complete_task",
    "end_session": "end_session",
    "open_session": "open_session",
    "read_transcript": "transcript",
    "session_facts": "session_facts",
    "messages_by_id": "messages",
    "list_users": "users",
    "read_user": "user",
    "set_user_metadata": "set_user_metadata",
    "set_session_metadata": "set_session_metadata",
    "list_sessions": "sessions",
    "list_threads": "threads",
    "list_runs": "runs",
    "resume": "resume",
    "recall": "recall",
    "list_facts": "facts",
    "list_knowledge": "knowledge",
    "list_summaries": "summaries",
    "latest_journal": "journal",
    "journal_versions": "journal_versions",
    "journal_version": "journal_version",
    "forget_user": "forget",
    "export_user": "export",
    "remember": "remember",
    "correct": "correct",
    "delete_fact": "delete_fact",
    "pin": "pin",
    "unpin": "unpin",
    "delete_insight": "delete_insight",
    "retract_message": "retract_message",
    "ready": "health",
    "alive": "alive",
}


def _base(base_url: str) -> str:
    """The service's root ("http://host:8421"), whether or not the caller added /v1."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root
