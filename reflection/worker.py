"""The jobs of the reflection worker. Each is idempotent and claims its scope with an
advisory lock, so any number of workers may run them at once and a worker killed mid-job
leaves nothing the next pass cannot finish:

- extract: messages past a session's watermark → candidate facts → consolidation;
- end sessions: hard-expired sessions → extract the rest → summary → journal → archive;
- reflect: users with enough new facts → knowledge reconciled with what is there;
- embed: rows written without a vector; retention: archived raw messages past the window.
"""

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory import session_rows
from memory.crypto import DISABLED, Cipher
from memory.domain import TYPED_KINDS, Clock, FactKind, Scope, SessionStatus
from memory.embedder import Embedder
from memory.errors import BackendUnavailable, Forgotten
from memory.facts import FactStore
from memory.journal import JournalStore
from memory.knowledge import KnowledgeStore
from memory.llm import LLM, MalformedOutput
from memory.loops import LOOP_KINDS, is_live
from memory.pending import embed_pending
from memory.records import Fact, Message, UserStyle
from memory.rls import SYSTEM, lease, transaction
from memory.rotation import KeyRotation
from memory.session_store import PostgresSessionStore, SessionStore
from memory.sessions import Sessions
from memory.settings import ReflectionSettings
from memory.summaries import SummaryStore
from memory.tenants import TenantStore
from memory.transcripts import TranscriptStore
from memory.users import UserStyles
from reflection import journal, style, synthesis
from reflection.claims import claim
from reflection.consolidation import decide
from reflection.digest import Digest, digest, title
from reflection.extraction import Candidate, Extractor, LLMExtractor, RuleExtractor
from reflection.journal import MAX_PRIORITIES
from reflection.ledger import Ledger, Run
from reflection.prompts import summary as summary_prompt
from reflection.prompts import synthesis as synthesis_prompt
from reflection.redaction import Redactor

log = logging.getLogger(__name__)

# How close in meaning a later statement must be to an open question to count as its
# answer ("Should I join a running club?" → "Joined the Lisbon running club").
ANSWERS_COSINE = 0.5

_DUE_EXTRACTION = text("""
SELECT tenant_id, user_id, id FROM sessions
WHERE last_seq > extracted_seq AND (last_active_at <= :quiet_since OR status <> 'active')
ORDER BY last_active_at LIMIT :limit
""")
_SESSION = text("""
SELECT extracted_seq, last_seq, status, started_at, last_active_at FROM sessions
WHERE tenant_id = :tenant_id AND user_id = :user_id AND id = :session_id
""")
_DUE_ENDING = text("""
SELECT tenant_id, user_id, id FROM sessions WHERE status = 'hard_expired'
ORDER BY last_active_at LIMIT :limit
""")
_JOURNALED = text("""
SELECT 1 FROM journal_entries
WHERE tenant_id = :tenant_id AND user_id = :user_id AND session_id = :session_id
""")
# Users with facts newer than their last successful reflection: due when there are enough
# of them, or when the last reflection is older than a day.
_DUE_REFLECTION = text("""
WITH last AS (
    SELECT tenant_id, user_id, max(started_at) AS at FROM runs
    WHERE kind = 'reflect' AND status = 'ok' GROUP BY tenant_id, user_id
)
SELECT f.tenant_id, f.user_id FROM facts f
LEFT JOIN last ON last.tenant_id = f.tenant_id AND last.user_id = f.user_id
WHERE f.valid_to IS NULL AND f.kind <> 'observation' AND (last.at IS NULL OR f.created_at > last.at)
GROUP BY f.tenant_id, f.user_id, last.at
HAVING count(*) >= :min_new OR (last.at IS NOT NULL AND last.at < :day_ago)
LIMIT :limit
""")
# One tenant's raw messages archived longer ago than its retention window.
_RETENTION = text("""
DELETE FROM messages
WHERE tenant_id = :tenant_id AND archived_at IS NOT NULL AND archived_at <= :archived_before
""")


@dataclass
class Stores:
    transcripts: TranscriptStore
    facts: FactStore
    knowledge: KnowledgeStore
    summaries: SummaryStore
    journal: JournalStore
    sessions: Sessions
    session_store: SessionStore
    tenants: TenantStore
    styles: UserStyles
    cipher: Cipher = DISABLED


class Worker:
    def __init__(
        self,
        engine: AsyncEngine,
        stores: Stores,
        extractor: Extractor,
        embedder: Embedder,
        llm: LLM | None,
        clock: Clock,
        settings: ReflectionSettings,
    ) -> None:
        self._engine = engine
        self._rotation = KeyRotation(engine, stores.cipher)
        self._s = stores
        self._extractor = extractor
        self._embedder = embedder
        self._llm = llm
        self._clock = clock
        self._settings = settings
        self.ledger = Ledger(engine, clock)

    # --- one pass of everything, as the scheduler and the tests run it ----------------

    async def tick(self) -> Counter[str]:
        """Every job once, in the order their outputs feed each other."""
        done: Counter[str] = Counter()
        done["extracted_sessions"] += await self.extract_due()
        done.update(await self.lifecycle())
        done["embedded"] += await self.embed()
        done["resealed"] += await self.reseal()
        done["reflected_users"] += await self.reflect_due()
        return done

    async def lifecycle(self) -> Counter[str]:
        """The sweep of DESIGN §5: expire idle sessions, end the hard-expired ones, delete
        raw messages past retention, drop expired hot-state rows. Expiry and retention run
        tenant by tenant with each tenant's windows: one tenant's failure is logged, counted
        (`failed_tenants`, and a failed run in the ledger) and stops no other tenant's."""
        done: Counter[str] = Counter()
        for tenant_id in await self._s.sessions.tenants_to_sweep():
            done.update(await self._for_tenant("sweep", tenant_id, self._s.sessions.sweep))
        done["ended_sessions"] += await self.end_due()
        done["deleted_raw"] += await self.retention()
        if isinstance(self._s.session_store, PostgresSessionStore):
            done["purged_cache"] += await self._s.session_store.purge_expired()
        return done

    async def _for_tenant(
        self, kind: str, tenant_id: str, job: Callable[[str], Awaitable[Counter[str]]]
    ) -> Counter[str]:
        """One tenant's share of a sweep, as a job boundary of its own."""
        try:
            return await job(tenant_id)
        except Exception as exc:
            log.exception("%s failed for tenant %s", kind, tenant_id, extra={"tenant": tenant_id})
            await self.ledger.failed(kind, tenant_id, exc)
            return Counter(failed_tenants=1)

    # --- extraction --------------------------------------------------------------------

    async def extract_due(self) -> int:
        quiet_since = self._clock() - timedelta(seconds=self._settings.extract_idle_s)
        params = {"quiet_since": quiet_since, "limit": self._settings.batch_sessions}
        async with transaction(self._engine, SYSTEM) as conn:
            due = (await conn.execute(_DUE_EXTRACTION, params)).all()
        count = 0
        for tenant_id, user_id, sid in due:
            count += await self._guarded(self.extract_session, Scope(tenant_id, user_id), sid)
        return count

    async def extract_session(self, scope: Scope, sid: uuid.UUID) -> bool:
        """Read everything past the watermark, batch by batch; False if another worker
        holds the session or a batch failed (the watermark stays, the next pass retries).
        Under a lease on the user: a forget stops it at its next write."""
        key = f"extract:{scope.tenant_id}:{scope.user_id}:{sid}"
        async with claim(self._engine, key) as held, lease(self._engine, scope) as present:
            if not held or not present:
                return not present
            while True:
                row = await self._session_row(scope, sid)
                if row is None or row.extracted_seq >= row.last_seq:
                    return True
                batch = await self._s.transcripts.after(
                    scope, sid, row.extracted_seq, limit=self._settings.extract_batch_messages
                )
                async with self.ledger.run("extract", scope, sid) as run:
                    await self._extract_batch(scope, batch, run)
                async with transaction(self._engine, scope) as conn:
                    await session_rows.mark_extracted(conn, scope, sid, batch[-1].seq)

    async def _extract_batch(self, scope: Scope, batch: list[Message], run: Run) -> None:
        extractor = await self._extractor_for(scope.tenant_id)
        run.model, run.prompt_version = extractor.model, extractor.prompt_version
        redactor = await self._redactor_for(scope.tenant_id)
        # Pure CPU on what a tenant sent: off the event loop, whoever hosts the worker.
        redacted = await asyncio.to_thread(redactor.messages, batch)
        candidates = await extractor.extract(redacted, run.usage)
        vectors = await self._embedder.embed([c.text for c in candidates])
        for candidate, vector in zip(candidates, vectors, strict=True):
            await self._consolidate(scope, candidate, vector)

    async def _extractor_for(self, tenant_id: str) -> Extractor:
        """The tenant's choice of extraction mode and model, else the service's."""
        choice = (await self._s.tenants.settings(tenant_id)).reflection
        if choice.extraction == "rules":
            return RuleExtractor(self._settings.max_facts_per_message)
        if choice.extraction is None and choice.model is None:
            return self._extractor
        if self._llm is None:
            log.warning(
                "tenant %s asks for LLM extraction but no LLM is configured; using the rules",
                tenant_id,
            )
            return RuleExtractor(self._settings.max_facts_per_message)
        llm = self._llm.using(choice.model) if choice.model else self._llm
        return LLMExtractor(llm, self._settings.max_facts_per_message)

    async def _redactor_for(self, tenant_id: str) -> Redactor:
        """The tenant's kinds, else the service's; the service's patterns plus the tenant's."""
        choice = (await self._s.tenants.settings(tenant_id)).reflection
        kinds = self._settings.redact if choice.redact is None else choice.redact
        return Redactor(kinds, self._settings.redact_patterns | (choice.redact_patterns or {}))

    async def _consolidate(self, scope: Scope, candidate: Candidate, vector: list[float]) -> None:
        same = (
            await self._s.facts.current_about(scope, candidate.attribute)
            if candidate.attribute
            else []
        )
        nearest = await self._s.facts.nearest(scope, vector, k=3)
        decision = decide(candidate, same, nearest, self._settings.near_duplicate_cosine)
        fields: dict[str, Any] = {
            "importance": candidate.importance,
            "confidence": candidate.confidence,
            "attribute": candidate.attribute,
            "source_message_ids": candidate.source_message_ids,
            "valid_from": candidate.valid_from,
            "occurs_at": candidate.occurs_at,
            "embedding": vector,
        }
        facts = self._s.facts
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
        questions = await self._s.facts.nearest(scope, vector, k=3, kinds=[FactKind.OPEN_QUESTION])
        for question, cosine in questions:
            if cosine >= ANSWERS_COSINE and question.valid_from < candidate.valid_from:
                await self._s.facts.close(scope, question.id, candidate.valid_from)

    # --- session end -------------------------------------------------------------------

    async def end_due(self) -> int:
        async with transaction(self._engine, SYSTEM) as conn:
            due = (await conn.execute(_DUE_ENDING, {"limit": self._settings.batch_sessions})).all()
        count = 0
        for tenant_id, user_id, sid in due:
            count += await self._guarded(self.end_session, Scope(tenant_id, user_id), sid)
        return count

    async def end_session(self, scope: Scope, sid: uuid.UUID) -> bool:
        """Extract what is left, summarize, write the journal, archive the transcript."""
        if not await self.extract_session(scope, sid):
            return False
        key = f"end:{scope.tenant_id}:{scope.user_id}:{sid}"
        async with claim(self._engine, key) as held, lease(self._engine, scope) as present:
            if not held or not present:
                return False
            row = await self._session_row(scope, sid)
            if row is None or row.status != SessionStatus.HARD_EXPIRED:
                return False
            async with self.ledger.run("end_session", scope, sid) as run:
                await self._summarize_and_journal(scope, sid, run)
                await self._s.transcripts.archive(scope, sid)
                async with transaction(self._engine, scope) as conn:
                    await session_rows.archive(conn, scope, sid)
            return True

    async def _summarize_and_journal(self, scope: Scope, sid: uuid.UUID, run: Run) -> None:
        stored = await self._s.transcripts.after(scope, sid, 0, limit=1000)
        if not stored:
            return
        redactor = await self._redactor_for(scope.tenant_id)
        messages = await asyncio.to_thread(redactor.messages, stored)
        facts = await self._s.facts.citing(scope, [m.id for m in messages])
        summary = await self._summary(scope.tenant_id, messages, facts, run)
        await self._s.summaries.put(
            scope,
            sid,
            summary.text,
            topics=summary.topics,
            decisions=summary.decisions,
            open_loops=summary.open_loops,
            started_at=messages[0].created_at,
            ended_at=messages[-1].created_at,
            message_ids=summary.retells,
        )
        params = {"tenant_id": scope.tenant_id, "user_id": scope.user_id, "session_id": sid}
        async with transaction(self._engine, scope) as conn:
            if await conn.scalar(_JOURNALED, params) is not None:
                return  # this session's version was written by an earlier, interrupted pass
        known = await self._s.styles.get(scope) or UserStyle()
        await self._s.styles.put(scope, style.updated(known, messages, summary.topics))
        latest = await self._s.journal.latest(scope)
        recent = await self._s.facts.list_facts(scope, kinds=LOOP_KINDS, limit=50)
        current = [f for f in recent if is_live(f, messages[-1].created_at)][:MAX_PRIORITIES]
        sections = journal.compose(
            latest.sections if latest else (),
            summary,
            messages[-1].created_at,
            sid,
            [f.text for f in current],
            self._settings.journal_budget_chars,
        )
        await self._s.journal.append(
            scope, sections, expected_version=latest.version if latest else 0, session_id=sid
        )

    async def _summary(
        self, tenant_id: str, messages: list[Message], facts: list[Fact], run: Run
    ) -> Digest:
        """Written by the LLM when the tenant's extraction uses one; else, or when the model
        cannot answer, extractive (the session's most important observations)."""
        offline = digest(messages, facts)
        run.prompt_version = "digest-rules"
        extractor = await self._extractor_for(tenant_id)
        if not isinstance(extractor, LLMExtractor):
            return offline
        llm = extractor.llm
        run.model, run.prompt_version = llm.model, summary_prompt.VERSION
        typed = [f for f in facts if f.kind is not FactKind.OBSERVATION]
        try:
            answer = await llm.json(
                summary_prompt.SYSTEM,
                summary_prompt.render(messages, typed),
                summary_prompt.Response,
                run.usage,
            )
        except (BackendUnavailable, MalformedOutput) as exc:
            log.warning("LLM summary failed (%s); the summary is extractive", exc.message)
            run.prompt_version = "digest-rules (LLM failed)"
            return offline
        return Digest(
            answer.text,
            tuple(answer.topics) or offline.topics,
            tuple(answer.decisions),
            tuple(answer.open_loops),
            tuple(m.id for m in messages),  # it may retell any of them
            title(answer.headline) if answer.headline.strip() else offline.headline,
        )

    # --- reflection --------------------------------------------------------------------

    async def reflect_due(self) -> int:
        params = {
            "min_new": self._settings.reflect_min_new_facts,
            "day_ago": self._clock() - timedelta(days=1),
            "limit": self._settings.batch_sessions,
        }
        async with transaction(self._engine, SYSTEM) as conn:
            due = (await conn.execute(_DUE_REFLECTION, params)).all()
        count = 0
        for tenant_id, user_id in due:
            count += await self._guarded(self.reflect_user, Scope(tenant_id, user_id))
        return count

    async def reflect_user(self, scope: Scope) -> bool:
        """Rewrite the user's knowledge from their current facts."""
        key = f"reflect:{scope.tenant_id}:{scope.user_id}"
        async with claim(self._engine, key) as held, lease(self._engine, scope) as present:
            if not held or not present:
                return False
            async with self.ledger.run("reflect", scope) as run:
                facts = await self._s.facts.list_facts(scope, kinds=TYPED_KINDS, limit=1000)
                drafts = await self._drafts(facts, run)
                existing = await self._s.knowledge.list_knowledge(scope, limit=1000)
                plan = synthesis.reconcile(existing, drafts)
                for draft in plan.add:
                    await self._s.knowledge.add(
                        scope, draft.text, draft.fact_ids, importance=draft.importance
                    )
                for knowledge_id, draft in plan.revise:
                    await self._s.knowledge.revise(
                        scope, knowledge_id, draft.text, draft.fact_ids, importance=draft.importance
                    )
                for knowledge_id in plan.retire:
                    await self._s.knowledge.retire(scope, knowledge_id)
            return True

    async def _drafts(self, facts: list[Fact], run: Run) -> list[synthesis.Draft]:
        if not facts:
            return []
        if self._llm is not None:
            run.model, run.prompt_version = self._llm.model, synthesis_prompt.VERSION
            return await synthesis.llm_drafts(self._llm, facts, run.usage)
        run.prompt_version = "synthesis-offline"
        vectors = np.array(await self._embedder.embed([f.text for f in facts]))
        return synthesis.offline_drafts(facts, vectors)

    # --- housekeeping ------------------------------------------------------------------

    async def embed(self) -> int:
        return await embed_pending(self._engine, self._embedder, cipher=self._s.cipher)

    async def reseal(self) -> int:
        """Key rotation in the background: re-seal one batch of rows not sealed with the
        active key (nothing to do while encryption is off)."""
        if not self._s.cipher.enabled:
            return 0
        async with self.ledger.run("reseal") as run:
            count = await self._rotation.reseal_batch()
            run.status = "ok"
        return count

    async def retention(self) -> int:
        """Delete raw messages past each tenant's retention window, tenant by tenant."""
        done: Counter[str] = Counter()
        async with self.ledger.run("retention"):
            for tenant_id in await self._s.tenants.tenant_ids():
                done.update(await self._for_tenant("retention", tenant_id, self._retain))
        return done["deleted_raw"]

    async def _retain(self, tenant_id: str) -> Counter[str]:
        windows = await self._s.tenants.lifecycle(tenant_id)
        params = {
            "tenant_id": tenant_id,
            "archived_before": self._clock() - timedelta(seconds=windows.retention_s),
        }
        async with transaction(self._engine, SYSTEM) as conn:  # every user of the tenant
            deleted = (await conn.execute(_RETENTION, params)).rowcount
        return Counter(deleted_raw=deleted)

    # --- helpers -----------------------------------------------------------------------

    async def _session_row(self, scope: Scope, sid: uuid.UUID) -> Row[Any] | None:
        params = {"tenant_id": scope.tenant_id, "user_id": scope.user_id, "session_id": sid}
        async with transaction(self._engine, scope) as conn:
            return (await conn.execute(_SESSION, params)).first()

    async def _guarded(self, job: Callable[..., Awaitable[bool]], *args: object) -> int:
        """A job boundary: a failure is in the ledger and the log, and the pass goes on."""
        try:
            return int(bool(await job(*args)))
        except Forgotten as exc:  # not a failure: the user asked to be forgotten
            log.info("job %s stopped: %s", getattr(job, "__name__", job), exc.message)
            return 0
        except Exception:
            log.exception("job %s failed for %s", getattr(job, "__name__", job), args)
            return 0
