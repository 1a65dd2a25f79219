"""Prompt: extract durable facts about the user from a stretch of conversation."""

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from memory.records import Message

VERSION = "extraction-2026-11-21"

SYSTEM = """You maintain the long-term memory of a personal assistant.
From the conversation excerpt, extract facts about the USER worth remembering in later
sessions: profile (job, home, age, name), relations (family, friends, pets, colleagues, with
names), preferences and dislikes, events that happened to them, decisions they made, plans
and commitments (with dates), and questions they asked that were left unanswered.
Rules:
- Only facts the user states or clearly implies about themselves; never the assistant's.
- One short third-person statement per fact, without "the user": "Works as a nurse".
- Resolve relative dates against the message date and include the date in the text.
- attribute: a short key for what the fact is about, shared by facts that would contradict
  each other ("residence", "occupation", "preference:coffee", "relation:daughter:mia");
  null when no later fact could contradict it.
- importance: 0 (trivia) to 1 (identity, health, commitments). confidence: 0 to 1.
- source_seqs: the [seq] numbers of the messages that state the fact.
Answer with JSON: {"facts": [{"kind", "text", "attribute", "importance", "confidence",
"source_seqs"}]} and nothing else. An excerpt with no such facts gives {"facts": []}."""


class ExtractedFact(BaseModel):
    kind: Literal["preference", "profile", "relation", "event", "decision", "plan", "open_question"]
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
