"""The run ledger: one `runs` row per job execution — kind, scope, status, model, prompt
version, tokens, LLM calls, retries, wall time and error — written when the job ends."""

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core import domain
from memory.core.domain import Clock, Scope
from memory.core.errors import Forgotten
from memory.core.sql import scope_params
from memory.infra.llm import Usage
from memory.infra.rls import SYSTEM, transaction

log = logging.getLogger(__name__)

_RECORD = text("""
INSERT INTO runs (id, kind, tenant_id, user_id, session_id, status, model, prompt_version,
                  input_tokens, output_tokens, llm_calls, retries, wall_ms, error,
                  started_at, finished_at, actor, subject_id)
VALUES (:id, :kind, :tenant_id, :user_id, :session_id, :status, :model, :prompt_version,
        :input_tokens, :output_tokens, :llm_calls, :retries, :wall_ms, :error,
        :started_at, :finished_at, :actor, :subject_id)
""")


# Job outcomes and LLM tokens of the last hour (shared by all workers), for the metrics.
_LAST_HOUR = text("""
SELECT kind, status, count(*) AS runs, coalesce(sum(input_tokens), 0) AS input_tokens,
       coalesce(sum(output_tokens), 0) AS output_tokens
FROM runs WHERE started_at > CAST(:now AS timestamptz) - interval '1 hour'
GROUP BY kind, status
""")


@dataclass(frozen=True, slots=True)
class JobCount:
    kind: str
    status: str
    runs: int
    input_tokens: int
    output_tokens: int


@dataclass
class Run:
    """Filled in by the job while it runs."""

    kind: str
    scope: Scope | None = None
    session_id: uuid.UUID | None = None
    model: str | None = None
    prompt_version: str | None = None
    usage: Usage = field(default_factory=Usage)
    status: str = "ok"  # ok, failed or skipped
    actor: str | None = None  # who made a change by hand (a job has none)
    subject_id: uuid.UUID | None = None  # the fact, insight or message changed by hand


_RECENT = text("""
SELECT id, kind, session_id, status, model, prompt_version, input_tokens, output_tokens,
       llm_calls, retries, wall_ms, error, started_at, finished_at, actor, subject_id
FROM runs WHERE tenant_id = :tenant_id AND user_id = :user_id
ORDER BY started_at DESC, id LIMIT :limit
""")
MAX_RECENT = 500


class Ledger:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    @asynccontextmanager
    async def run(
        self,
        kind: str,
        scope: Scope | None = None,
        session_id: uuid.UUID | None = None,
        actor: str | None = None,
    ) -> AsyncIterator[Run]:
        """Record the job (or the change made by `actor`) in the block; an exception marks
        it failed and propagates."""
        run = Run(kind, scope, session_id, actor=actor)
        started_at, started = self._clock(), time.perf_counter()
        error: str | None = None
        try:
            yield run
        except Exception as exc:
            run.status, error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
            raise
        finally:
            await self._write(run, started_at, int((time.perf_counter() - started) * 1000), error)

    async def failed(self, kind: str, tenant_id: str, error: Exception) -> None:
        """Record one tenant's failed share of a sweep (a run with the tenant, no user)."""
        now = self._clock()
        run = Run(kind, status="failed")
        message = f"{type(error).__name__}: {error}"[:2000]
        await self._write(run, now, 0, message, tenant_id=tenant_id)

    async def recent(self, scope: Scope, limit: int = 50) -> list[dict[str, Any]]:
        """The user's latest runs, newest first, as JSON-ready rows."""
        domain.limit(limit, MAX_RECENT)
        params = {**scope_params(scope), "limit": limit}
        async with transaction(self._engine, scope) as conn:
            rows = (await conn.execute(_RECENT, params)).mappings().all()
        return [dict(row) for row in rows]

    async def last_hour(self, now: datetime) -> list[JobCount]:
        """Runs and tokens per kind and status in the hour before `now`, service-wide."""
        async with transaction(self._engine, SYSTEM) as conn:
            rows = (await conn.execute(_LAST_HOUR, {"now": now})).all()
        return [JobCount(r.kind, r.status, r.runs, r.input_tokens, r.output_tokens) for r in rows]

    async def _write(
        self,
        run: Run,
        started_at: object,
        wall_ms: int,
        error: str | None,
        tenant_id: str | None = None,
    ) -> None:
        params = {
            "id": uuid.uuid4(),
            "kind": run.kind,
            "tenant_id": run.scope.tenant_id if run.scope else tenant_id,
            "user_id": run.scope.user_id if run.scope else None,
            "session_id": run.session_id,
            "status": run.status,
            "model": run.model,
            "prompt_version": run.prompt_version,
            "input_tokens": run.usage.input_tokens,
            "output_tokens": run.usage.output_tokens,
            "llm_calls": run.usage.calls,
            "retries": run.usage.retries,
            "wall_ms": wall_ms,
            "error": error,
            "started_at": started_at,
            "finished_at": self._clock(),
            "actor": run.actor,
            "subject_id": run.subject_id,
        }
        try:
            async with transaction(self._engine, run.scope or SYSTEM) as conn:
                await conn.execute(_RECORD, params)
        except Forgotten:  # the user is gone, and so is everything about them
            log.info("run %s not recorded: its user was forgotten", run.kind)
        except Exception:  # the ledger must never turn a finished job into a failed one
            log.exception("could not record run %s", run.kind)
