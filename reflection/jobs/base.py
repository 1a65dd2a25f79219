"""What every job works with (`Tools`), the tenant's choices of extractor and redactor,
and the job boundary: a due list run job by job, where one failure is logged and the pass
goes on."""

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.core.crypto import DISABLED, Cipher
from memory.core.domain import Clock, Scope
from memory.core.errors import Forgotten
from memory.core.settings import ReflectionSettings, TenantReflection
from memory.infra.embedder import Embedder
from memory.infra.llm import LLM
from memory.infra.rls import transaction
from memory.stores import session_rows
from memory.stores.facts import FactStore
from memory.stores.journal import JournalStore
from memory.stores.knowledge import KnowledgeStore
from memory.stores.session_store import SessionStore
from memory.stores.sessions import Sessions
from memory.stores.summaries import SummaryStore
from memory.stores.tenants import TenantStore
from memory.stores.transcripts import TranscriptStore
from memory.stores.users import UserStyles
from reflection.extraction import Extractor, LLMExtractor, RuleExtractor
from reflection.kinds import KindReader
from reflection.ledger import Ledger
from reflection.redaction import Redactor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Tools:
    """What the jobs share: the stores, the models, the clock, the settings, the ledger."""

    engine: AsyncEngine
    stores: Stores
    extractor: Extractor  # the service's; a tenant may choose another (`extractor_for`)
    embedder: Embedder
    llm: LLM | None
    clock: Clock
    settings: ReflectionSettings
    ledger: Ledger
    kinds: KindReader | None = None  # what types the rules' untyped statements, if anything

    async def extractor_for(self, tenant_id: str) -> Extractor:
        choice = (await self.stores.tenants.settings(tenant_id)).reflection
        return chosen_extractor(
            choice, self.extractor, self.llm, self.settings, tenant_id, self.kinds
        )

    async def redactor_for(self, tenant_id: str) -> Redactor:
        """The tenant's kinds, else the service's; the service's patterns plus the
        tenant's."""
        choice = (await self.stores.tenants.settings(tenant_id)).reflection
        kinds = self.settings.redact if choice.redact is None else choice.redact
        return Redactor(kinds, self.settings.redact_patterns | (choice.redact_patterns or {}))

    async def session_row(self, scope: Scope, sid: uuid.UUID) -> Row[Any] | None:
        async with transaction(self.engine, scope) as conn:
            return await session_rows.progress(conn, scope, sid)


def chosen_extractor(
    choice: TenantReflection,
    default: Extractor,
    llm: LLM | None,
    settings: ReflectionSettings,
    tenant_id: str,
    kinds: KindReader | None = None,
) -> Extractor:
    """The tenant's choice of extraction mode and model, else the service's (pure but for
    a warning when a tenant asks for an LLM the service does not have)."""
    cap = settings.max_facts_per_message
    if choice.extraction == "rules":
        return RuleExtractor(cap, kinds)
    if choice.extraction is None and choice.model is None:
        return default
    if llm is None:
        log.warning(
            "tenant %s asks for LLM extraction but no LLM is configured; using the rules",
            tenant_id,
        )
        return RuleExtractor(cap, kinds)
    return LLMExtractor(llm.using(choice.model) if choice.model else llm, cap)


async def guarded(job: Callable[..., Awaitable[bool]], *args: object) -> int:
    """A job boundary: a failure is in the ledger and the log, and the pass goes on."""
    try:
        return int(bool(await job(*args)))
    except Forgotten as exc:  # not a failure: the user asked to be forgotten
        log.info("job %s stopped: %s", getattr(job, "__name__", job), exc.message)
        return 0
    except Exception:
        log.exception("job %s failed for %s", getattr(job, "__name__", job), args)
        return 0


async def run_due(due: Iterable[Sequence[Any]], job: Callable[..., Awaitable[bool]]) -> int:
    """Run `job` for every due row, (tenant, user, session) or (tenant, user); how many
    finished."""
    count = 0
    for tenant_id, user_id, *rest in due:
        count += await guarded(job, Scope(tenant_id, user_id), *rest)
    return count
