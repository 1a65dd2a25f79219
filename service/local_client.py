"""`LocalClient`: the calls of the HTTP clients (`service.client`), made in-process on a
container for one tenant, for people who embed the library. It answers with the same models
the REST API publishes (`service.schemas`) and raises the library's errors."""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from memory.core.domain import Scope
from memory.core.session_state import SessionState
from service import schemas
from service.container import Container


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
        metadata: dict[str, Any] | None = None,
        thread: str | None = None,
        session_metadata: dict[str, Any] | None = None,
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
            metadata=metadata,
            thread=thread,
            session_metadata=session_metadata,
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
        thread: str | None = None,
        session_metadata: dict[str, Any] | None = None,
    ) -> schemas.BatchAppended:
        body = schemas.NewMessages.model_validate(
            {"messages": messages, "device_id": device_id, "takeover": takeover}
        )
        items = body.turns()
        turns = await self._c.sessions.append_batch(
            self._scope(user_id),
            session_id,
            items,
            device_id=device_id,
            takeover=takeover,
            thread=thread,
            session_metadata=session_metadata,
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
        thread: str | None = None,
    ) -> schemas.ResumeOut:
        context = await self._c.resumer.resume(
            self._scope(user_id), message, device_id, None, budget_tokens, thread
        )
        return schemas.ResumeOut.model_validate(context)

    async def sessions(
        self, user_id: str, *, limit: int = 200, thread: str | None = None
    ) -> list[schemas.SessionOverviewOut]:
        found = await self._c.history.sessions(self._scope(user_id), limit, thread=thread)
        return [schemas.SessionOverviewOut.model_validate(s) for s in found]

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
        thread: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[schemas.FactOut]:
        found = await self._c.facts.list_facts(
            self._scope(user_id),
            kinds=kinds,
            as_of=as_of,
            include_superseded=include_superseded,
            limit=limit,
            thread=thread,
            metadata=metadata,
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

    async def retract_message(self, user_id: str, session_id: str) -> schemas.MessageOut | None:
        message, _state = await self._c.curation.retract_message(
            self._scope(user_id), session_id, actor=self._actor
        )
        return None if message is None else schemas.MessageOut.of(message)

    async def delete_insight(self, user_id: str, knowledge_id: str) -> None:
        await self._c.curation.forget_insight(self._scope(user_id), knowledge_id, actor=self._actor)

    async def forget(self, user_id: str) -> None:
        await self._c.records.forget(self._scope(user_id))
