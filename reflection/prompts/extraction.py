"""Prompt: extract durable facts about the user from a stretch of conversation."""

from collections.abc import Sequence

from pydantic import BaseModel, Field

from memory.core.domain import FactKind
from memory.core.records import Message

VERSION = "extraction-2026-11-30"

SYSTEM = """You maintain the long-term memory of a personal assistant. The raw conversation
will be deleted after a month; what you extract is all that will be remembered.
From the conversation excerpt, extract:
1. Typed facts about the USER worth remembering in later sessions: profile (job, home, age,
   name, health constraints such as allergies and diets), relations (family, friends, pets,
   colleagues, with names), preferences and dislikes, events that happened to them,
   decisions they made, plans and commitments (with dates), and questions they asked that
   were left unanswered.
2. Observations: every informative statement of EITHER speaker, one per statement, kind
   "observation", written in the third person with the speaker named ("Caroline went to a
   support group on 2023-05-07"), relative dates resolved against the message date. Leave
   out greetings, thanks, small talk, reactions and bare questions.
Rules:
- Typed facts: only what the user states or clearly implies about themselves; one short
  third-person statement per fact, without "the user": "Works as a nurse".
- Resolve relative dates against the message date and include the date in the text.
- attribute: a short key for what the fact is about, shared by facts that would contradict
  each other ("residence", "occupation", "preference:coffee", "relation:daughter:mia");
  null for observations and when no later fact could contradict it.
- importance: 0 (trivia) to 1 (identity, health, commitments). confidence: 0 to 1.
- source_seqs: the [seq] numbers of the messages that state the fact.
Answer with JSON: {"facts": [{"kind", "text", "attribute", "importance", "confidence",
"source_seqs"}]} and nothing else. An excerpt with nothing worth keeping gives
{"facts": []}."""


class ExtractedFact(BaseModel):
    kind: FactKind  # the typed kinds and "observation"
    text: str = Field(min_length=1, max_length=1000)
    attribute: str | None = Field(default=None, max_length=200)
    importance: float = Field(ge=0, le=1)
    confidence: float = Field(default=0.8, ge=0, le=1)
    source_seqs: list[int] = Field(min_length=1)


class Response(BaseModel):
    facts: list[ExtractedFact]


def render(messages: Sequence[Message]) -> str:
    """The excerpt as the model sees it: one line per message with seq, role and date."""
    return "\n".join(
        f"[{m.seq}] {m.role.value} ({m.created_at:%Y-%m-%d %H:%M}): {m.content}" for m in messages
    )
