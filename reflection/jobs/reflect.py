"""Reflection: users with enough new typed facts (or none reflected for a day) get their
knowledge rewritten from their current facts — insights added, revised or retired, each
citing the facts it stands on."""

from datetime import timedelta

import numpy as np
from sqlalchemy import text

from memory.core.domain import TYPED_KINDS, Scope
from memory.core.records import Fact
from memory.infra.rls import SYSTEM, lease, transaction
from reflection import synthesis
from reflection.claims import claim
from reflection.jobs.base import Tools, run_due
from reflection.ledger import Run
from reflection.prompts import synthesis as synthesis_prompt

# Users with facts newer than their last successful reflection: due when there are enough
# of them, or when the last reflection is older than a day.
_DUE = text("""
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


class Reflection:
    def __init__(self, tools: Tools) -> None:
        self._t = tools
        self._s = tools.stores

    async def due(self) -> int:
        settings = self._t.settings
        params = {
            "min_new": settings.reflect_min_new_facts,
            "day_ago": self._t.clock() - timedelta(days=1),
            "limit": settings.batch_sessions,
        }
        async with transaction(self._t.engine, SYSTEM) as conn:
            due = (await conn.execute(_DUE, params)).all()
        return await run_due(due, self.user)

    async def user(self, scope: Scope) -> bool:
        """Rewrite the user's knowledge from their current facts."""
        engine = self._t.engine
        key = f"reflect:{scope.tenant_id}:{scope.user_id}"
        async with claim(engine, key) as held, lease(engine, scope) as present:
            if not held or not present:
                return False
            async with self._t.ledger.run("reflect", scope) as run:
                facts = await self._s.facts.list_facts(scope, kinds=TYPED_KINDS, limit=1000)
                drafts = await self._drafts(facts, run)
                existing = await self._s.knowledge.list_knowledge(scope, limit=1000)
                await self._apply(scope, synthesis.reconcile(existing, drafts))
            return True

    async def _apply(self, scope: Scope, plan: synthesis.Plan) -> None:
        knowledge = self._s.knowledge
        for draft in plan.add:
            await knowledge.add(scope, draft.text, draft.fact_ids, importance=draft.importance)
        for knowledge_id, draft in plan.revise:
            await knowledge.revise(
                scope, knowledge_id, draft.text, draft.fact_ids, importance=draft.importance
            )
        for knowledge_id in plan.retire:
            await knowledge.retire(scope, knowledge_id)

    async def _drafts(self, facts: list[Fact], run: Run) -> list[synthesis.Draft]:
        if not facts:
            return []
        llm = self._t.llm
        if llm is not None:
            run.model, run.prompt_version = llm.model, synthesis_prompt.VERSION
            return await synthesis.llm_drafts(llm, facts, run.usage)
        run.prompt_version = "synthesis-offline"
        facts = synthesis.offline_inputs(facts)
        if not facts:
            return []
        vectors = np.array(await self._t.embedder.embed([f.text for f in facts]))
        return synthesis.offline_drafts(facts, vectors)
