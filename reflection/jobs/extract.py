"""Extraction: the messages past a session's watermark → redacted → candidate facts →
consolidated against what is known (merge, supersede or insert), with open questions the
user has since answered closed; batch by batch, the watermark moved after each."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from memory.core.domain import FactKind, Scope
from memory.core.records import Message
from memory.infra.rls import SYSTEM, lease, transaction
from memory.stores import session_rows
from reflection.claims import claim
from reflection.consolidation import decide
from reflection.extraction import Candidate
from reflection.jobs.base import Tools, run_due
from reflection.ledger import Run

# How close in meaning a later statement must be to an open question to count as its
# answer ("Should I join a running club?" → "Joined the Lisbon running club").
ANSWERS_COSINE = 0.5

_DUE = text("""
SELECT tenant_id, user_id, id FROM sessions
WHERE last_seq > extracted_seq AND (last_active_at <= :quiet_since OR status <> 'active')
ORDER BY last_active_at LIMIT :limit
""")


class Extraction:
    def __init__(self, tools: Tools) -> None:
        self._t = tools
        self._s = tools.stores

    async def due(self) -> int:
        """Sessions with unread messages that have been quiet long enough (or ended)."""
        settings = self._t.settings
        quiet_since = self._t.clock() - timedelta(seconds=settings.extract_idle_s)
        params = {"quiet_since": quiet_since, "limit": settings.batch_sessions}
        async with transaction(self._t.engine, SYSTEM) as conn:
            due = (await conn.execute(_DUE, params)).all()
        return await run_due(due, self.session)

    async def session(self, scope: Scope, sid: uuid.UUID) -> bool:
        """Read everything past the watermark, batch by batch; False if another worker
        holds the session or a batch failed (the watermark stays, the next pass retries).
        Under a lease on the user: a forget stops it at its next write."""
        engine = self._t.engine
        key = f"extract:{scope.tenant_id}:{scope.user_id}:{sid}"
        async with claim(engine, key) as held, lease(engine, scope) as present:
            if not held or not present:
                return not present
            while True:
                row = await self._t.session_row(scope, sid)
                if row is None or row.extracted_seq >= row.last_seq:
                    return True
                batch = await self._s.transcripts.after(
                    scope, sid, row.extracted_seq, limit=self._t.settings.extract_batch_messages
                )
                async with self._t.ledger.run("extract", scope, sid) as run:
                    await self._batch(scope, batch, run)
                async with transaction(engine, scope) as conn:
                    await session_rows.mark_extracted(conn, scope, sid, batch[-1].seq)

    async def _batch(self, scope: Scope, batch: list[Message], run: Run) -> None:
        extractor = await self._t.extractor_for(scope.tenant_id)
        run.model, run.prompt_version = extractor.model, extractor.prompt_version
        redactor = await self._t.redactor_for(scope.tenant_id)
        # Pure CPU on what a tenant sent: off the event loop, whoever hosts the worker.
        redacted = await asyncio.to_thread(redactor.messages, batch)
        candidates = await extractor.extract(redacted, run.usage)
        vectors = await self._t.embedder.embed([c.text for c in candidates])
        for candidate, vector in zip(candidates, vectors, strict=True):
            await self._consolidate(scope, candidate, vector)

    async def _consolidate(self, scope: Scope, candidate: Candidate, vector: list[float]) -> None:
        facts = self._s.facts
        same = await facts.current_about(scope, candidate.attribute) if candidate.attribute else []
        nearest = await facts.nearest(scope, vector, k=3)
        decision = decide(candidate, same, nearest, self._t.settings.near_duplicate_cosine)
        fields: dict[str, Any] = {
            "importance": candidate.importance,
            "confidence": candidate.confidence,
            "attribute": candidate.attribute,
            "source_message_ids": candidate.source_message_ids,
            "valid_from": candidate.valid_from,
            "occurs_at": candidate.occurs_at,
            "restates": candidate.restates,
            "embedding": vector,
        }
        if candidate.kind is not FactKind.OPEN_QUESTION and candidate.by_user:
            await self._close_answered(scope, candidate, vector)
        if decision.action == "merge" and decision.target is not None:
            await facts.add_sources(scope, decision.target, candidate.source_message_ids)
        elif decision.action == "supersede" and decision.target is not None:
            await facts.supersede(scope, decision.target, candidate.kind, candidate.text, **fields)
        elif decision.action == "insert":
            await facts.insert(scope, candidate.kind, candidate.text, **fields)

    async def _close_answered(
        self, scope: Scope, candidate: Candidate, vector: list[float]
    ) -> None:
        """A later statement of the user's on the very subject of an open question answers
        it: the question is closed (it stays readable "as of" before). Whether a reply of
        the assistant answered it is the extractor's call, made when it reads the reply
        (a reply that does not know leaves it open)."""
        facts = self._s.facts
        questions = await facts.nearest(scope, vector, k=3, kinds=[FactKind.OPEN_QUESTION])
        for question, cosine in questions:
            if cosine >= ANSWERS_COSINE and question.valid_from < candidate.valid_from:
                await facts.close(scope, question.id, candidate.valid_from)
