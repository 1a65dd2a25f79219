"""The end of a session: once it is hard-expired, what is left is extracted, the session
is summarized (by the summary prompt with an LLM, extractively without), how the user talks
is updated, the journal gets its next version, and the transcript is archived."""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import text

from memory.core.domain import FactKind, Scope, SessionStatus
from memory.core.errors import BackendUnavailable
from memory.core.loops import LOOP_KINDS, is_live
from memory.core.records import Fact, Message, UserStyle
from memory.infra.llm import MalformedOutput
from memory.infra.rls import SYSTEM, lease, transaction
from memory.stores import session_rows
from reflection import journal, style
from reflection.claims import claim
from reflection.digest import Digest, digest, title
from reflection.extraction import LLMExtractor
from reflection.jobs.base import Tools, run_due
from reflection.journal import MAX_PRIORITIES
from reflection.ledger import Run
from reflection.prompts import summary as summary_prompt

log = logging.getLogger(__name__)

_DUE = text("""
SELECT tenant_id, user_id, id FROM sessions WHERE status = 'hard_expired'
ORDER BY last_active_at LIMIT :limit
""")
_JOURNALED = text("""
SELECT 1 FROM journal_entries
WHERE tenant_id = :tenant_id AND user_id = :user_id AND session_id = :session_id
""")


class Ending:
    def __init__(self, tools: Tools, extract: Callable[[Scope, uuid.UUID], Awaitable[bool]]):
        self._t = tools
        self._s = tools.stores
        self._extract = extract

    async def due(self) -> int:
        limit = {"limit": self._t.settings.batch_sessions}
        async with transaction(self._t.engine, SYSTEM) as conn:
            due = (await conn.execute(_DUE, limit)).all()
        return await run_due(due, self.session)

    async def session(self, scope: Scope, sid: uuid.UUID) -> bool:
        """Extract what is left, summarize, write the journal, archive the transcript."""
        if not await self._extract(scope, sid):
            return False
        engine = self._t.engine
        key = f"end:{scope.tenant_id}:{scope.user_id}:{sid}"
        async with claim(engine, key) as held, lease(engine, scope) as present:
            if not held or not present:
                return False
            row = await self._t.session_row(scope, sid)
            if row is None or row.status != SessionStatus.HARD_EXPIRED:
                return False
            async with self._t.ledger.run("end_session", scope, sid) as run:
                await self._summarize_and_journal(scope, sid, run)
                await self._s.transcripts.archive(scope, sid)
                async with transaction(engine, scope) as conn:
                    await session_rows.archive(conn, scope, sid)
            return True

    async def _summarize_and_journal(self, scope: Scope, sid: uuid.UUID, run: Run) -> None:
        stored = await self._s.transcripts.after(scope, sid, 0, limit=1000)
        if not stored:
            return
        redactor = await self._t.redactor_for(scope.tenant_id)
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
        async with transaction(self._t.engine, scope) as conn:
            if await conn.scalar(_JOURNALED, params) is not None:
                return  # this session's version was written by an earlier, interrupted pass
        known = await self._s.styles.get(scope) or UserStyle()
        await self._s.styles.put(scope, style.updated(known, messages, summary.topics))
        await self._journal(scope, sid, summary, messages[-1])

    async def _journal(self, scope: Scope, sid: uuid.UUID, summary: Digest, last: Message) -> None:
        latest = await self._s.journal.latest(scope)
        recent = await self._s.facts.list_facts(scope, kinds=LOOP_KINDS, limit=50)
        current = [f for f in recent if is_live(f, last.created_at)][:MAX_PRIORITIES]
        sections = journal.compose(
            latest.sections if latest else (),
            summary,
            last.created_at,
            sid,
            [f.text for f in current],
            self._t.settings.journal_budget_chars,
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
        extractor = await self._t.extractor_for(tenant_id)
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
