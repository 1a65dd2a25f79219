"""Extraction turns a stretch of transcript into candidate facts, each with kind, text,
importance, confidence, `valid_from` and its source messages. Two extractors: rule-based
(the offline default) and an LLM through any OpenAI-compatible endpoint. Either keeps at
most `max_facts_per_message` candidates per source message, the most important ones."""

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from memory.core.domain import FactKind, Role
from memory.core.records import Message
from memory.infra.llm import LLM, Usage
from reflection.observations import observe
from reflection.prompts import extraction as prompt
from reflection.rules import extract_rules

RULES_VERSION = "rules-2026-12-01"
# An observation restates what was said; the sentence split and the rewrite can be wrong.
OBSERVATION_CONFIDENCE = 0.8
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
    """Deterministic patterns; needs no network and no keys."""

    model: str | None = None
    prompt_version = RULES_VERSION

    def __init__(self, max_facts_per_message: int = MAX_FACTS_PER_MESSAGE) -> None:
        self._per_message = max_facts_per_message

    async def extract(self, messages: Sequence[Message], usage: Usage) -> list[Candidate]:
        # Pure CPU on what a tenant sent: never on the event loop.
        return await asyncio.to_thread(self._extract, list(messages))

    def _extract(self, messages: list[Message]) -> list[Candidate]:
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
            for f in extract_rules(messages)
        ]
        found += [
            Candidate(
                FactKind.OBSERVATION,
                o.text,
                o.importance,
                OBSERVATION_CONFIDENCE,
                None,
                o.message.created_at,
                (o.message.id,),
                by_user=o.message.role is Role.USER,
            )
            for o in observe(messages)
        ]
        return capped(found, self._per_message)


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
                )
            )
        return capped(candidates, self._per_message)
