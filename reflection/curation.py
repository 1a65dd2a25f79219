"""Memories looked after by hand, one at a time: add one the user asked to be remembered,
correct one, delete one, pin one. The hand counterpart of the worker's extraction — the same
tiers, the same redaction, the same ledger — and every change is a run of the ledger that
says who made it (`actor`: "key:<id>" over REST, "cli", "mcp", "local") and to what.

- **Remember**: a fact of the kind given, at the highest trust (confidence 1), with the
  importance given, redacted as the tenant's extraction would be.
- **Correct**: a new version that supersedes the old one, so reading `as_of` before the
  correction still sees what was believed then; a pinned fact stays pinned.
- **Delete**: the fact for good, and every insight that cites it (its text may say the fact
  again; the next reflection pass writes the others from what remains). An insight can be
  deleted on its own, every version of it.
- **Pin**: the fact is in the profile of every resumption context, whatever else is there.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from memory.core import domain
from memory.core.domain import Clock, FactKind, Scope
from memory.core.records import Fact, Message
from memory.core.session_state import SessionState
from memory.infra.embedder import Embedder
from memory.stores.facts import FactStore
from memory.stores.knowledge import KnowledgeStore
from memory.stores.sessions import Sessions
from reflection.ledger import Ledger
from reflection.redaction import Redactor

REMEMBERED_IMPORTANCE = 0.8  # what a user asked to be remembered matters, unless they say
HAND_CONFIDENCE = 1.0  # said by the user or the operator in so many words


class Curation:
    def __init__(
        self,
        facts: FactStore,
        knowledge: KnowledgeStore,
        embedder: Embedder,
        ledger: Ledger,
        clock: Clock,
        redactor_for: Callable[[str], Awaitable[Redactor]],
        sessions: Sessions,
    ) -> None:
        self._sessions = sessions
        self._facts = facts
        self._knowledge = knowledge
        self._embedder = embedder
        self._ledger = ledger
        self._clock = clock
        self._redactor_for = redactor_for

    async def _prepared(self, scope: Scope, statement: str) -> tuple[str, list[float]]:
        redactor = await self._redactor_for(scope.tenant_id)
        # Pure CPU on what a tenant sent: off the event loop.
        redacted = await asyncio.to_thread(redactor.redact, statement)
        return redacted, (await self._embedder.embed([redacted]))[0]

    async def remember(
        self,
        scope: Scope,
        kind: FactKind | str,
        statement: str,
        *,
        importance: float = REMEMBERED_IMPORTANCE,
        pinned: bool = False,
        actor: str,
    ) -> Fact:
        """Store what the user asked to be remembered (the identical current fact, if there
        is one, with this importance kept as it was)."""
        async with self._ledger.run("memory.remember", scope, actor=actor) as run:
            redacted, vector = await self._prepared(scope, statement)
            fact = await self._facts.insert(
                scope,
                kind,
                redacted,
                importance=importance,
                embedding=vector,
                confidence=HAND_CONFIDENCE,
            )
            if pinned and not fact.pinned:
                fact = await self._facts.pin(scope, fact.id)
            run.subject_id = fact.id
            return fact

    async def correct(
        self,
        scope: Scope,
        fact_id: uuid.UUID | str,
        statement: str,
        *,
        kind: FactKind | str | None = None,
        importance: float | None = None,
        actor: str,
    ) -> Fact:
        """A new version of a current fact saying `statement`; the old one ends now and
        points at it. A fact that is no longer current cannot be corrected (`Conflict`)."""
        async with self._ledger.run("memory.correct", scope, actor=actor) as run:
            old = await self._facts.get(scope, fact_id)
            run.subject_id = old.id
            redacted, vector = await self._prepared(scope, statement)
            return await self._facts.supersede(
                scope,
                old.id,
                old.kind if kind is None else kind,
                redacted,
                importance=old.importance if importance is None else importance,
                embedding=vector,
                confidence=HAND_CONFIDENCE,
                attribute=old.attribute,
                occurs_at=old.occurs_at,
                valid_from=self._clock(),
            )

    async def forget_fact(self, scope: Scope, fact_id: uuid.UUID | str, *, actor: str) -> None:
        """Delete one fact for good, and every insight that cites it (`NotFound` if the
        user has no such fact)."""
        async with self._ledger.run("memory.delete", scope, actor=actor) as run:
            fact = await self._facts.get(scope, fact_id)
            run.subject_id = fact.id
            await self._facts.delete(scope, [fact.id])

    async def retract_message(
        self, scope: Scope, session_id: uuid.UUID | str, *, actor: str
    ) -> tuple[Message | None, SessionState]:
        """Take back the last message of a live session (an agent framework's undo); the
        ledger names who did and which message went."""
        sid = domain.parse_uuid(session_id, "session_id")
        async with self._ledger.run("message.retract", scope, sid, actor=actor) as run:
            message, state = await self._sessions.retract_last(scope, sid)
            run.subject_id = None if message is None else message.id
        return message, state

    async def forget_insight(
        self, scope: Scope, knowledge_id: uuid.UUID | str, *, actor: str
    ) -> None:
        """Delete one insight for good, every version of it."""
        async with self._ledger.run("memory.delete_insight", scope, actor=actor) as run:
            found = await self._knowledge.get_many(scope, [knowledge_id])
            run.subject_id = found[0].id if found else None
            await self._knowledge.delete(scope, knowledge_id)

    async def pin(
        self, scope: Scope, fact_id: uuid.UUID | str, pinned: bool = True, *, actor: str
    ) -> Fact:
        """Pin a fact into the profile, or unpin it."""
        kind = "memory.pin" if pinned else "memory.unpin"
        async with self._ledger.run(kind, scope, actor=actor) as run:
            fact = await self._facts.pin(scope, fact_id, pinned)
            run.subject_id = fact.id
            return fact
