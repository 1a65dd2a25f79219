"""The context builder: for a returning user, plan the resumption, gather what the plan
calls for — the restored window and active task, or the last session's summary, its open
loops, a journal excerpt and recalled memories — and render it within a token budget,
every line citing where it came from."""

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from memory.core.domain import Clock, FactKind, Scope, Tier, normalized_hash
from memory.core.errors import NotFound
from memory.core.loops import LOOP_KINDS, is_live, to_follow_up
from memory.core.metadata import DEFAULT_THREAD
from memory.core.records import JournalSection, RecallHit, SectionKind, SessionSummary
from memory.core.session_state import Flow, SessionState, WindowMessage
from memory.core.settings import ResumptionSettings
from memory.stores.facts import FactStore
from memory.stores.journal import JournalStore
from memory.stores.recall import Recall
from memory.stores.sessions import Sessions
from memory.stores.summaries import SummaryStore
from memory.stores.tenants import TenantStore
from memory.stores.users import UserStyles
from resume.greeting import greeting
from resume.policy import LastSession, Mode, Plan, plan
from resume.profile import described, profile
from resume.render import Block, Item, Turn, message_tokens, render

SHARES = {
    "profile": 0.15,
    "task": 0.1,
    "last": 0.2,
    "loops": 0.15,
    "journal": 0.1,
    "memories": 0.3,
}
_PROFILE_KINDS = (FactKind.PROFILE, FactKind.RELATION, FactKind.PREFERENCE)
_RECENT_OBSERVATIONS = 1000  # where a health constraint said only in passing is looked for
_DAY_S = 86_400
_CITE = {
    Tier.RAW: "message",
    Tier.FACTS: "fact",
    Tier.KNOWLEDGE: "knowledge",
    Tier.SUMMARIES: "summary",
}
_JOURNAL_EXCERPT_CHARS = 1200


@dataclass(frozen=True)
class OtherDevice:
    device_id: str
    session_id: uuid.UUID


@dataclass(frozen=True)
class ResumptionContext:
    mode: Mode
    reason: str
    gap_s: float | None
    session_id: uuid.UUID  # the session to continue, or the new one to start
    continues_session: bool
    greeting: str | None
    restored: tuple[WindowMessage, ...] = ()
    active_task: Flow | None = None
    blocks: tuple[Block, ...] = ()
    other_device: OtherDevice | None = None
    messages: list[dict[str, str]] = field(default_factory=list)
    tokens: int = 0
    budget_tokens: int = 0  # what `tokens` was held to
    # The thread to write `session_id` in: the one asked for, else the last session's.
    thread: str = DEFAULT_THREAD


@dataclass
class _Gathered:
    """What the plan calls for, before dedup and rendering."""

    blocks: list[Block] = field(default_factory=list)
    topic: str | None = None
    open_loop: str | None = None


def _age_days(at: datetime, now: datetime) -> float:
    return max((now - at).total_seconds(), 0.0) / _DAY_S


class Resumer:
    def __init__(
        self,
        sessions: Sessions,
        summaries: SummaryStore,
        journal: JournalStore,
        facts: FactStore,
        recall: Recall,
        tenants: TenantStore,
        clock: Clock,
        styles: UserStyles,
    ) -> None:
        self._sessions = sessions
        self._summaries = summaries
        self._journal = journal
        self._facts = facts
        self._recall = recall
        self._tenants = tenants
        self._clock = clock
        self._styles = styles

    async def resume(
        self,
        scope: Scope,
        message: str | None = None,
        device_id: str | None = None,
        now: datetime | None = None,
        budget_tokens: int | None = None,
        thread: str | None = None,
    ) -> ResumptionContext:
        """How this user's conversation resumes now, ready to put into a prompt. With
        `thread`, it continues that thread: its last session decides the mode, and the
        memories recalled come from it; who the user is, their open loops and the journal
        are the user's, whatever the thread."""
        now = now or self._clock()
        policy = await self._tenants.resumption(scope.tenant_id)
        last = await self._sessions.latest(scope, thread)
        decided = plan(_last(last), now, policy)
        gathered = await self._gather(scope, decided, last, message, now, policy, thread)
        blocks = _deduplicated(gathered.blocks)
        restoring = decided.mode is Mode.FULL_RESTORE and last is not None
        session_id = last.session_id if restoring and last else uuid.uuid4()
        context = ResumptionContext(
            mode=decided.mode,
            reason=decided.reason,
            gap_s=decided.gap_s,
            session_id=session_id,
            continues_session=restoring,
            greeting=greeting(decided.mode, gathered.topic, gathered.open_loop, last is None),
            restored=last.window if restoring and last else (),
            active_task=last.context.flow if restoring and last else None,
            blocks=tuple(blocks),
            other_device=await self._other_device(scope, last, device_id, now),
            thread=thread or (last.thread if last else DEFAULT_THREAD),
        )
        budget = budget_tokens or policy.budget_tokens
        turns = [Turn(m.role.value, m.content) for m in context.restored]
        messages = render(_header(context, decided, now), blocks, turns, budget)
        return replace(
            context, messages=messages, tokens=message_tokens(messages), budget_tokens=budget
        )

    async def _gather(
        self,
        scope: Scope,
        decided: Plan,
        last: SessionState | None,
        message: str | None,
        now: datetime,
        policy: ResumptionSettings,
        thread: str | None,
    ) -> _Gathered:
        gathered = _Gathered()
        gathered.blocks.append(await self._profile(scope))
        if decided.mode is Mode.FULL_RESTORE and last is not None:
            gathered.topic = last.context.topic
            gathered.blocks.append(_task_block(last))
        elif decided.mode is Mode.PRIMED and last is not None:
            await self._primed(scope, last, gathered)
        queries = [
            q for q in (gathered.topic if decided.mode is Mode.PRIMED else None, message) if q
        ]
        gathered.blocks.append(
            await self._memories(scope, queries, decided.mode, now, policy, thread)
        )
        return gathered

    async def _profile(self, scope: Scope) -> Block:
        """Who the user is, in every mode: the facts of their current profile."""
        facts = await self._facts.list_facts(scope, kinds=_PROFILE_KINDS, limit=200)
        facts += await self._facts.list_facts(
            scope, kinds=[FactKind.OBSERVATION], limit=_RECENT_OBSERVATIONS
        )
        known = {f.id for f in facts}
        facts += [f for f in await self._facts.pinned(scope) if f.id not in known]
        core = profile(facts)
        items = [Item(f.text, f"fact:{f.id}") for f in (*core.pinned, *core.identity, *core.health)]
        manner = described(await self._styles.get(scope))
        if manner is not None:
            items.append(Item(manner, "user:style"))
        items += [Item(f.text, f"fact:{f.id}") for f in (*core.people, *core.preferences)]
        return Block("About the user", tuple(items), SHARES["profile"])

    async def _primed(self, scope: Scope, last: SessionState, gathered: _Gathered) -> None:
        summary = await self._summary(scope, last.session_id)
        cite = f"session:{last.session_id}"
        if summary is not None:
            gathered.topic = summary.topics[0] if summary.topics else last.context.topic
            last_items = [Item(f"{summary.ended_at:%Y-%m-%d}: {summary.text}", cite)]
        else:  # the worker has not summarized it yet: its last turns say what it was about
            gathered.topic = last.context.topic
            last_items = [
                Item(f"{m.role.value}: {m.content}", f"message:{m.id}") for m in last.window[-4:]
            ]
        # Only what is open now: a summary's loops are what was open when it was written.
        loops = [Item(q, cite) for q in last.context.open_questions]
        now = self._clock()
        recent = await self._facts.list_facts(scope, kinds=LOOP_KINDS, limit=50)
        followed = [f for f in recent if to_follow_up(f, now, last.last_active_at)]
        loops += [Item(f"Has it happened? {f.text}", f"fact:{f.id}") for f in followed]
        live = [f for f in recent if is_live(f, now)]
        loops += [Item(f.text, f"fact:{f.id}") for f in live[:10]]
        # The greeting picks up only what the last session left open, never an older loop.
        said_last = {f.id for f in await self._facts.from_session(scope, last.session_id)}
        questions = [f.text for f in live if f.kind is FactKind.OPEN_QUESTION and f.id in said_last]
        questions += [q for q in last.context.open_questions if q.rstrip().endswith("?")]
        gathered.open_loop = questions[0] if questions else None
        gathered.blocks.append(Block("Last session", tuple(last_items), SHARES["last"]))
        gathered.blocks.append(Block("Open loops and follow-ups", tuple(loops), SHARES["loops"]))
        entry = await self._journal.latest(scope)
        if entry is not None:
            cite = f"journal:v{entry.version}"
            # The journal's newest section is the last session only once that has ended;
            # before that it is the session before, which the context must not drop.
            newest_is_last = entry.session_id == last.session_id
            arc = _journal_arc(entry.sections, skip_newest=newest_is_last)
            items = tuple(Item(line, cite) for line in arc)
            gathered.blocks.append(Block("Earlier, from the journal", items, SHARES["journal"]))

    async def _summary(self, scope: Scope, session_id: uuid.UUID) -> SessionSummary | None:
        try:
            return await self._summaries.get(scope, session_id)
        except NotFound:
            return None

    async def _memories(
        self,
        scope: Scope,
        queries: list[str],
        mode: Mode,
        now: datetime,
        policy: ResumptionSettings,
        thread: str | None,
    ) -> Block:
        hits: dict[uuid.UUID, RecallHit] = {}
        k = max(policy.memories, 1)
        for query in queries:
            for hit in await self._recall.recall(scope, query, k=k, thread=thread):
                hits.setdefault(hit.id, hit)
        items = []
        for hit in sorted(hits.values(), key=lambda h: -h.score)[: policy.memories]:
            age = _age_days(hit.at, now)
            note = f"{hit.tier.value}, {age:.0f} days old"
            if mode is Mode.FRESH and age * _DAY_S > policy.outdated_after_s:
                note += ", possibly outdated"
            items.append(Item(f"({note}) {hit.text}", f"{_CITE[hit.tier]}:{hit.id}"))
        return Block("Relevant memories", tuple(items), SHARES["memories"])

    async def _other_device(
        self, scope: Scope, last: SessionState | None, device_id: str | None, now: datetime
    ) -> OtherDevice | None:
        if last is None or device_id is None or last.device_id in (None, device_id):
            return None
        windows = await self._tenants.lifecycle(scope.tenant_id)
        if (now - last.last_active_at).total_seconds() >= windows.soft_expiry_s:
            return None
        return OtherDevice(last.device_id or "", last.session_id)


def _journal_arc(sections: Sequence[JournalSection], *, skip_newest: bool) -> list[str]:
    """The journal's session sections, one line each, then its condensed older ones,
    without "Now" (the other blocks say it) and, when it is the last session's, without the
    newest session (the "Last session" block says it)."""
    sessions = [s for s in sections if s.kind is SectionKind.SESSION][skip_newest:]
    lines = [f"{s.on or s.title}: {' '.join(s.body.split())}" for s in sessions]
    earlier = [item for s in sections if s.kind is SectionKind.EARLIER for item in s.items]
    if earlier:
        lines.append("Earlier: " + "; ".join(earlier))
    return [line[:_JOURNAL_EXCERPT_CHARS] for line in lines]


def _last(state: SessionState | None) -> LastSession | None:
    if state is None:
        return None
    return LastSession(state.session_id, state.last_active_at, state.status, state.device_id)


def _task_block(last: SessionState) -> Block:
    cite = f"session:{last.session_id}"
    items = []
    flow = last.context.flow
    if flow is not None:
        collected = ", ".join(f"{k}={v}" for k, v in flow.variables.items()) or "nothing yet"
        items.append(
            Item(f"{flow.name} at step '{flow.step}' ({flow.status}); collected: {collected}", cite)
        )
    if last.context.topic:
        items.append(Item(f"Topic: {last.context.topic}", cite))
    items += [Item(f"Unresolved: {q}", cite) for q in last.context.open_questions]
    return Block("Active task", tuple(items), SHARES["task"])


# Cites that name one memory: the same one under another wording is still a repeat. A
# session or a journal version is cited by several statements that are not repeats.
_ONE_MEMORY = ("fact:", "message:", "knowledge:", "summary:")


def _deduplicated(blocks: list[Block]) -> list[Block]:
    """Each statement once, in the first section that has it; empty sections dropped."""
    seen: set[str] = set()
    kept = []
    for block in blocks:
        items = []
        for item in block.items:
            key = normalized_hash(re.sub(r"^\([^)]*\) ", "", item.text))
            one = item.cite.startswith(_ONE_MEMORY)
            if key not in seen and not (one and item.cite in seen):
                seen.update({key, item.cite} if one else {key})
                items.append(item)
        if items:
            kept.append(Block(block.title, tuple(items), block.share))
    return kept


def _header(context: ResumptionContext, decided: Plan, now: datetime) -> str:
    situation = {
        Mode.FULL_RESTORE: "the conversation continues where it stopped",
        Mode.PRIMED: "a new session, primed with what the last one left",
        Mode.FRESH: "a fresh start; older memories may be out of date",
    }[decided.mode]
    lines = [
        "Memory from memstrata about this returning user. Use what helps; cite the [ids] "
        "you rely on. Never claim to remember more than is here.",
        f"Resumption: {decided.mode.value} — {situation}. Now: {now:%Y-%m-%d %H:%M %Z}.",
    ]
    if context.continues_session:
        lines.append(f"Continuing session {context.session_id}; its recent turns follow.")
    if context.other_device is not None:
        lines.append(
            f"The user is active on another device ({context.other_device.device_id}, "
            f"session {context.other_device.session_id}). Offer to continue here; do not "
            "take that session over without their say-so."
        )
    if context.greeting:
        lines.append(f'Suggested greeting: "{context.greeting}"')
    return "\n".join(lines)
