"""Extraction turns a stretch of transcript into candidate facts, each with kind, text,
importance, confidence, `valid_from` and its source messages. Two extractors: rule-based
(the offline default) and an LLM through any OpenAI-compatible endpoint. Either keeps at
most `max_facts_per_message` candidates per source message, the most important ones."""

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from memory.core.domain import FactKind, Role
from memory.core.records import Message
from memory.infra.llm import LLM, Usage
from reflection.kinds import KindReader
from reflection.observations import Observation, content_words, observe
from reflection.prompts import extraction as prompt
from reflection.rules import RuleFact, extract_rules
from reflection.rules.cues import Cue, cue
from reflection.rules.dates import plan_date

RULES_VERSION = "rules-2026-12-01c"  # lower-case names and homes, medicine stems, choices
# An observation restates what was said; the sentence split and the rewrite can be wrong.
OBSERVATION_CONFIDENCE = 0.8
# An observation typed by its cues or its nearest examples: the kind is a reading, not a
# match, so it is trusted less than any pattern's fact.
CUED_CONFIDENCE = 0.55
# The kinds a pattern may already have read out of the sentence a cue would type.
_CUED_KINDS = frozenset({FactKind.PLAN, FactKind.EVENT, FactKind.DECISION, FactKind.PREFERENCE})
MAX_FACTS_PER_MESSAGE = 12  # the default of ReflectionSettings.max_facts_per_message


@dataclass(frozen=True)
class Candidate:
    kind: FactKind
    text: str
    importance: float
    confidence: float
    attribute: str | None
    valid_from: datetime
    source_message_ids: tuple[uuid.UUID, ...]
    occurs_at: datetime | None = None  # when a plan or event takes place, if it is said
    by_user: bool = True  # said by the user (an assistant's words never answer their question)
    restates: bool = False  # its text says again what its message says, sentence by sentence


def capped(candidates: Sequence[Candidate], per_message: int) -> list[Candidate]:
    """The candidates, in their order, with no message the source of more than
    `per_message` of them: the most important are kept (the earlier on a tie)."""
    ranked = sorted(range(len(candidates)), key=lambda i: -candidates[i].importance)
    cited: Counter[uuid.UUID] = Counter()
    kept: set[int] = set()
    for index in ranked:
        sources = candidates[index].source_message_ids
        if all(cited[source] < per_message for source in sources):
            cited.update(sources)
            kept.add(index)
    return [candidate for index, candidate in enumerate(candidates) if index in kept]


class Extractor(Protocol):
    model: str | None
    prompt_version: str

    async def extract(self, messages: Sequence[Message], usage: Usage) -> list[Candidate]:
        """Candidates found in `messages`; their cost accumulates in `usage`, also when the
        extraction fails."""
        ...


class RuleExtractor:
    """Deterministic patterns; needs no network and no keys. With a `KindReader`, the
    user's statements no pattern or cue typed are typed by their nearest examples."""

    model: str | None = None
    prompt_version = RULES_VERSION

    def __init__(
        self, max_facts_per_message: int = MAX_FACTS_PER_MESSAGE, kinds: KindReader | None = None
    ) -> None:
        self._per_message = max_facts_per_message
        self.kinds = kinds

    async def extract(self, messages: Sequence[Message], usage: Usage) -> list[Candidate]:
        # Pure CPU on what a tenant sent: never on the event loop.
        read = await asyncio.to_thread(_read, list(messages))
        if self.kinds is not None:
            untyped = [i for i, c in enumerate(read.candidates) if _untyped(c)]
            kinds = await self.kinds.kinds([read.observations[i].source for i in untyped])
            read.nearest.update(zip(untyped, kinds, strict=True))
        return await asyncio.to_thread(_assembled, read, self._per_message)


# What the patterns read out of each message: the kind and the content words of each fact,
# worked out once, so a statement is compared only with the facts of its own message.
_Said = dict[uuid.UUID, list[tuple[FactKind, frozenset[str]]]]


@dataclass
class _Read:
    rules: list[RuleFact]
    said: _Said
    observations: list[Observation]
    candidates: list[Candidate]  # one per observation, typed by its cues where they settle it
    # The kind the nearest examples give an untyped one, by its index.
    nearest: dict[int, FactKind | None] = field(default_factory=dict)


def _read(messages: list[Message]) -> _Read:
    rules = extract_rules(messages)
    said: _Said = {}
    for f in rules:
        said.setdefault(f.message.id, []).append((f.kind, frozenset(content_words(f.text))))
    observations = observe(messages)
    return _Read(rules, said, observations, [_observed(o, said) for o in observations])


def _untyped(candidate: Candidate) -> bool:
    return candidate.kind is FactKind.OBSERVATION and candidate.by_user


def _assembled(read: _Read, per_message: int) -> list[Candidate]:
    found = [
        Candidate(
            f.kind,
            f.text,
            f.importance,
            f.confidence,
            f.attribute,
            f.message.created_at,
            (f.message.id,),
            f.occurs_at,
        )
        for f in read.rules
    ]
    for index, (observation, candidate) in enumerate(
        zip(read.observations, read.candidates, strict=True)
    ):
        kind = read.nearest.get(index)
        if kind is not None and not _claimed(observation, kind, read.said):
            candidate = _typed(observation, Cue(kind, _when(kind, observation)))
        found.append(candidate)
    return capped(found, per_message)


def _when(kind: FactKind, observation: Observation) -> datetime | None:
    if kind is not FactKind.PLAN:
        return None
    return plan_date(observation.source, observation.message.created_at)


def _observed(observation: Observation, said: _Said) -> Candidate:
    """An observation as a candidate: of the kind its cues of time or habit give it when it
    is the user's and no pattern read that kind out of the same words, else untyped."""
    message = observation.message
    by_user = message.role is Role.USER
    found = cue(observation.source, message.created_at) if by_user else None
    if found is None or _claimed(observation, found.kind, said):
        return Candidate(
            FactKind.OBSERVATION,
            observation.text,
            observation.importance,
            OBSERVATION_CONFIDENCE,
            None,
            message.created_at,
            (message.id,),
            by_user=by_user,
            restates=True,
        )
    return _typed(observation, found)


def _typed(observation: Observation, found: Cue) -> Candidate:
    message = observation.message
    return Candidate(
        found.kind,
        observation.text,
        observation.importance,
        CUED_CONFIDENCE,
        None,
        message.created_at,
        (message.id,),
        found.occurs_at,
        restates=True,
    )


def _claimed(observation: Observation, kind: FactKind, said: _Said) -> bool:
    """Whether a pattern already found a fact of `kind` (or, for a plan, event, decision or
    preference, of any of those) in the words of `observation`, from the same message: two
    content words in common, or half of the pattern fact's own ("Dislikes coffee" in "I
    don't like coffee anymore")."""
    words = set(content_words(observation.source))
    rival = _CUED_KINDS if kind in _CUED_KINDS else {kind}
    for fact_kind, fact_words in said.get(observation.message.id, ()):
        if fact_kind not in rival:
            continue
        shared = len(words & fact_words)
        if shared >= 2 or (fact_words and shared * 2 >= len(fact_words)):
            return True
    return False


class LLMExtractor:
    """The versioned extraction prompt; raises `MalformedOutput` or `BackendUnavailable`
    when the model cannot give a valid answer."""

    prompt_version = prompt.VERSION

    def __init__(self, llm: LLM, max_facts_per_message: int = MAX_FACTS_PER_MESSAGE) -> None:
        self.llm = llm
        self.model: str | None = llm.model
        self._per_message = max_facts_per_message

    async def extract(self, messages: Sequence[Message], usage: Usage) -> list[Candidate]:
        if not messages:
            return []
        answer = await self.llm.json(prompt.SYSTEM, prompt.render(messages), prompt.Response, usage)
        by_seq = {m.seq: m for m in messages}
        candidates = []
        for fact in answer.facts:
            sources = [by_seq[s] for s in fact.source_seqs if s in by_seq]
            if not sources:  # a fact citing nothing we showed it is not a fact we can trace
                continue
            candidates.append(
                Candidate(
                    FactKind(fact.kind),
                    fact.text,
                    fact.importance,
                    fact.confidence,
                    fact.attribute.lower() if fact.attribute else None,
                    min(m.created_at for m in sources),
                    tuple(m.id for m in sources),
                    by_user=any(m.role is Role.USER for m in sources),
                    restates=FactKind(fact.kind) is FactKind.OBSERVATION,
                )
            )
        return capped(candidates, self._per_message)
