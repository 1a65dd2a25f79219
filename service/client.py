"""The Python client: `MemstrataClient` talks to a running service over HTTP (httpx), and
`LocalClient` makes the same calls in-process on a container, for people who embed the
library. Both answer with the same models, the ones the REST API publishes
(`service.schemas`)."""

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx

from memory.core.domain import Scope
from memory.core.errors import MemstrataError
from memory.core.session_state import SessionState
from memory.stores.transcripts import NewTurn
from service import schemas
from service.container import Container


class ApiError(MemstrataError):
    """A problem+json answer from the service."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('title')}: {problem.get('detail')}")
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", "error"))


class MemstrataClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/v1",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
            transport=transport,
        )

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ApiError(response.status_code, response.json())
        return None if response.status_code == 204 else response.json()

    async def append(
        self,
        user_id: str,
        session_id: str,
        role: str,
        content: str,
        *,
        idempotency_key: str | None = None,
        device_id: str | None = None,
        takeover: bool = False,
        at: datetime | None = None,
    ) -> schemas.Appended:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = {
            "role": role,
            "content": content,
            "device_id": device_id,
            "takeover": takeover,
            "at": at.isoformat() if at else None,
        }
        data = await self._call(
            "POST", f"/users/{user_id}/sessions/{session_id}/messages", json=body, headers=headers
        )
        return schemas.Appended.model_validate(data)

    async def append_batch(
        self,
        user_id: str,
        session_id: str,
        messages: list[dict[str, Any]],
        *,
        device_id: str | None = None,
        takeover: bool = False,
    ) -> schemas.BatchAppended:
        """Several messages ({"role", "content", "idempotency_key"?, "at"?}), all or none."""
        body = schemas.NewMessages.model_validate(
            {"messages": messages, "device_id": device_id, "takeover": takeover}
        )
        data = await self._call(
            "POST",
            f"/users/{user_id}/sessions/{session_id}/messages/batch",
            json=body.model_dump(mode="json"),
        )
        return schemas.BatchAppended.model_validate(data)

    async def session(self, user_id: str, session_id: str) -> SessionState:
        data = await self._call("GET", f"/users/{user_id}/sessions/{session_id}")
        return SessionState.model_validate(data)

    async def end_session(self, user_id: str, session_id: str) -> SessionState:
        """The conversation is over: summarized and journaled by the worker's next pass."""
        data = await self._call("POST", f"/users/{user_id}/sessions/{session_id}/end")
        return SessionState.model_validate(data)

    async def update_session(
        self, user_id: str, session_id: str, version: int, **changes: Any
    ) -> SessionState:
        data = await self._call(
            "PATCH",
            f"/users/{user_id}/sessions/{session_id}",
            json=changes,
            headers={"If-Match": f'"{version}"'},
        )
        return SessionState.model_validate(data)

    async def recall(
        self, user_id: str, query: str, k: int = 10, **filters: Any
    ) -> list[schemas.HitOut]:
        data = await self._call(
            "POST", f"/users/{user_id}/recall", json={"query": query, "k": k, **filters}
        )
        return [schemas.HitOut.model_validate(hit) for hit in data]

    async def resume(
        self,
        user_id: str,
        message: str | None = None,
        *,
        device_id: str | None = None,
        budget_tokens: int | None = None,
    ) -> schemas.ResumeOut:
        data = await self._call(
            "POST",
            f"/users/{user_id}/resume",
            json={"message": message, "device_id": device_id, "budget_tokens": budget_tokens},
        )
        return schemas.ResumeOut.model_validate(data)

    async def journal(self, user_id: str) -> schemas.JournalOut | None:
        data = await self._call("GET", f"/users/{user_id}/journal")
        return None if data is None else schemas.JournalOut.model_validate(data)

    async def export(self, user_id: str) -> AsyncIterator[dict[str, Any]]:
        """The user's rows, the last one `{"tier": "end", "rows": {tier: count}}`; an export
        that fails midway raises `ApiError` with the code of the service's error line."""
        async with self._http.stream("GET", f"/users/{user_id}/export") as response:
            if response.status_code >= 400:
                raise ApiError(response.status_code, json.loads(await response.aread()))
            async for line in response.aiter_lines():
                if not line:
                    continue
                row = json.loads(line)
                if row.get("tier") == "error":  # the service drops the connection next
                    raise ApiError(500, {"title": "Export failed", **row})
                yield row

    async def facts(
        self,
        user_id: str,
        *,
        kinds: list[str] | None = None,
        as_of: datetime | None = None,
        include_superseded: bool = False,
        limit: int = 100,
    ) -> list[schemas.FactOut]:
        params: dict[str, Any] = {"include_superseded": include_superseded, "limit": limit}
        if kinds:
            params["kind"] = kinds
        if as_of is not None:
            params["as_of"] = as_of.isoformat()
        data = await self._call("GET", f"/users/{user_id}/facts", params=params)
        return [schemas.FactOut.model_validate(f) for f in data]

    async def knowledge(self, user_id: str, *, limit: int = 100) -> list[schemas.KnowledgeOut]:
        data = await self._call("GET", f"/users/{user_id}/knowledge", params={"limit": limit})
        return [schemas.KnowledgeOut.model_validate(k) for k in data]

    async def remember(
        self,
        user_id: str,
        kind: str,
        text: str,
        *,
        importance: float = 0.8,
        pinned: bool = False,
    ) -> schemas.FactOut:
        body = {"kind": kind, "text": text, "importance": importance, "pinned": pinned}
        data = await self._call("POST", f"/users/{user_id}/facts", json=body)
        return schemas.FactOut.model_validate(data)

    async def correct(
        self,
        user_id: str,
        fact_id: str,
        text: str,
        *,
        kind: str | None = None,
        importance: float | None = None,
    ) -> schemas.FactOut:
        body = {"text": text, "kind": kind, "importance": importance}
        data = await self._call("POST", f"/users/{user_id}/facts/{fact_id}/correction", json=body)
        return schemas.FactOut.model_validate(data)

    async def delete_fact(self, user_id: str, fact_id: str) -> None:
        await self._call("DELETE", f"/users/{user_id}/facts/{fact_id}")

    async def pin(self, user_id: str, fact_id: str, pinned: bool = True) -> schemas.FactOut:
        method = "PUT" if pinned else "DELETE"
        data = await self._call(method, f"/users/{user_id}/facts/{fact_id}/pin")
        return schemas.FactOut.model_validate(data)

    async def delete_insight(self, user_id: str, knowledge_id: str) -> None:
        await self._call("DELETE", f"/users/{user_id}/knowledge/{knowledge_id}")

    async def forget(self, user_id: str) -> None:
        await self._call("DELETE", f"/users/{user_id}")

    async def close(self) -> None:
        await self._http.aclose()


class LocalClient:
    """The same calls, in-process, for one tenant of a container; `actor` is who the ledger
    says made a change by hand ("local", "cli", "mcp")."""

    def __init__(self, container: Container, tenant_id: str, actor: str = "local") -> None:
        self._c = container
        self._tenant = tenant_id
        self._actor = actor

    def _scope(self, user_id: str) -> Scope:
        return Scope(self._tenant, user_id)

    async def append(
        self,
        user_id: str,
        session_id: str,
        role: str,
        content: str,
        *,
        idempotency_key: str | None = None,
        device_id: str | None = None,
        takeover: bool = False,
        at: datetime | None = None,
    ) -> schemas.Appended:
        turn = await self._c.sessions.append(
            self._scope(user_id),
            session_id,
            role,
            content,
            idempotency_key=idempotency_key,
            device_id=device_id,
            takeover=takeover,
            at=at,
        )
        return schemas.Appended(
            message=schemas.MessageOut.of(turn.message),
            session_version=turn.state.version,
            replayed=turn.replayed,
            session_status=turn.state.status,
            ended_reason=turn.state.ended_reason,
        )

    async def append_batch(
        self,
        user_id: str,
        session_id: str,
        messages: list[dict[str, Any]],
        *,
        device_id: str | None = None,
        takeover: bool = False,
    ) -> schemas.BatchAppended:
        body = schemas.NewMessages.model_validate(
            {"messages": messages, "device_id": device_id, "takeover": takeover}
        )
        items = [NewTurn(m.role, m.content, m.idempotency_key, m.at) for m in body.messages]
        turns = await self._c.sessions.append_batch(
            self._scope(user_id), session_id, items, device_id=device_id, takeover=takeover
        )
        return schemas.BatchAppended.of(turns)

    async def session(self, user_id: str, session_id: str) -> SessionState:
        return await self._c.sessions.state(self._scope(user_id), session_id)

    async def end_session(self, user_id: str, session_id: str) -> SessionState:
        return await self._c.sessions.end(self._scope(user_id), session_id)

    async def update_session(
        self, user_id: str, session_id: str, version: int, **changes: Any
    ) -> SessionState:
        body = schemas.StateChange.model_validate(changes)  # what the route accepts, no more
        fields = body.model_dump(exclude_unset=True)
        return await self._c.sessions.update(self._scope(user_id), session_id, version, **fields)

    async def recall(
        self, user_id: str, query: str, k: int = 10, **filters: Any
    ) -> list[schemas.HitOut]:
        hits = await self._c.recall.recall(self._scope(user_id), query, k, **filters)
        return [schemas.HitOut.model_validate(hit) for hit in hits]

    async def resume(
        self,
        user_id: str,
        message: str | None = None,
        *,
        device_id: str | None = None,
        budget_tokens: int | None = None,
    ) -> schemas.ResumeOut:
        context = await self._c.resumer.resume(
            self._scope(user_id), message, device_id, None, budget_tokens
        )
        return schemas.ResumeOut.model_validate(context)

    async def journal(self, user_id: str) -> schemas.JournalOut | None:
        entry = await self._c.journal.latest(self._scope(user_id))
        return None if entry is None else schemas.JournalOut.model_validate(entry)

    async def export(self, user_id: str) -> AsyncIterator[dict[str, Any]]:
        async for row in self._c.records.export(self._scope(user_id)):
            yield row

    async def facts(
        self,
        user_id: str,
        *,
        kinds: list[str] | None = None,
        as_of: datetime | None = None,
        include_superseded: bool = False,
        limit: int = 100,
    ) -> list[schemas.FactOut]:
        found = await self._c.facts.list_facts(
            self._scope(user_id),
            kinds=kinds,
            as_of=as_of,
            include_superseded=include_superseded,
            limit=limit,
        )
        return [schemas.FactOut.model_validate(f) for f in found]

    async def knowledge(self, user_id: str, *, limit: int = 100) -> list[schemas.KnowledgeOut]:
        found = await self._c.knowledge.list_knowledge(self._scope(user_id), limit=limit)
        return [schemas.KnowledgeOut.model_validate(k) for k in found]

    async def remember(
        self,
        user_id: str,
        kind: str,
        text: str,
        *,
        importance: float = 0.8,
        pinned: bool = False,
    ) -> schemas.FactOut:
        fact = await self._c.curation.remember(
            self._scope(user_id),
            kind,
            text,
            importance=importance,
            pinned=pinned,
            actor=self._actor,
        )
        return schemas.FactOut.model_validate(fact)

    async def correct(
        self,
        user_id: str,
        fact_id: str,
        text: str,
        *,
        kind: str | None = None,
        importance: float | None = None,
    ) -> schemas.FactOut:
        fact = await self._c.curation.correct(
            self._scope(user_id), fact_id, text, kind=kind, importance=importance, actor=self._actor
        )
        return schemas.FactOut.model_validate(fact)

    async def delete_fact(self, user_id: str, fact_id: str) -> None:
        await self._c.curation.forget_fact(self._scope(user_id), fact_id, actor=self._actor)

    async def pin(self, user_id: str, fact_id: str, pinned: bool = True) -> schemas.FactOut:
        fact = await self._c.curation.pin(self._scope(user_id), fact_id, pinned, actor=self._actor)
        return schemas.FactOut.model_validate(fact)

    async def delete_insight(self, user_id: str, knowledge_id: str) -> None:
        await self._c.curation.forget_insight(self._scope(user_id), knowledge_id, actor=self._actor)

    async def forget(self, user_id: str) -> None:
        await self._c.records.forget(self._scope(user_id))
