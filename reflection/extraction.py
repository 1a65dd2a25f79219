"""Extraction turns a stretch of transcript into candidate facts, each with kind, text,
importance, confidence, `valid_from` and its source messages. Two extractors: rule-based
(the offline default) and an LLM through any OpenAI-compatible endpoint."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from memory.domain import FactKind
from memory.llm import LLM, Usage
from memory.records import Message
from reflection.prompts import extraction as prompt
from reflection.rules import extract_rules

RULES_VERSION = "rules-2026-11-21"


@dataclass(frozen=True)
class Candidate:
    kind: FactKind
    text: str
    importance: float
    confidence: float
    attribute: str | None
    valid_from: datetime
    source_message_ids: tuple[uuid.UUID, ...]


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

    async def extract(self, messages: Sequence[Message], usage: Usage) -> list[Candidate]:
        return [
            Candidate(
                f.kind,
                f.text,
                f.importance,
                f.confidence,
                f.attribute,
                f.message.created_at,
                (f.message.id,),
            )
            for f in extract_rules(messages)
        ]


class LLMExtractor:
    """The versioned extraction prompt; raises `MalformedOutput` or `BackendUnavailable`
    when the model cannot give a valid answer."""

    prompt_version = prompt.VERSION

    def __init__(self, llm: LLM) -> None:
        self._llm = llm
        self.model: str | None = llm.model

    async def extract(self, messages: Sequence[Message], usage: Usage) -> list[Candidate]:
        if not messages:
            return []
        answer = await self._llm.json(
            prompt.SYSTEM, prompt.render(messages), prompt.Response, usage
        )
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
                )
            )
        return candidates
