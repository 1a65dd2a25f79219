"""Prompt: the summary of one ended session, as a person would write it for the user's
assistant to read weeks later."""

from collections.abc import Sequence

from pydantic import BaseModel, Field

from memory.core.records import Fact, Message
from reflection.prompts.extraction import render as render_messages

VERSION = "summary-2026-12-01"

SYSTEM = """You maintain the long-term memory of a personal assistant. The conversation
below has ended and its transcript will be deleted after a month; your summary is what will
be remembered of it. Write:
- text: 2 to 5 sentences in the third person, as a person would summarise the session for
  someone who was not there: who said what that matters, with names, dates resolved
  against the message dates, and outcomes. Never quote the messages; never list keywords.
- headline: what the session would be titled in a diary, one short phrase (at most 80
  characters, no date), e.g. "Chose a dog walker for Bruno".
- topics: up to 5 short subjects (one to three words each).
- decisions: what was decided, each one short sentence.
- open_loops: what is still open at the end (unanswered questions, plans not yet done,
  with their dates), each one short sentence.
The facts already extracted from the session are listed after the transcript; use them.
Answer with JSON: {"text", "headline", "topics", "decisions", "open_loops"} and nothing
else."""


class Response(BaseModel):
    text: str = Field(min_length=1, max_length=4000)
    headline: str = Field(default="", max_length=200)
    topics: list[str] = Field(default_factory=list, max_length=5)
    decisions: list[str] = Field(default_factory=list, max_length=20)
    open_loops: list[str] = Field(default_factory=list, max_length=20)


def render(messages: Sequence[Message], facts: Sequence[Fact]) -> str:
    """The transcript as extraction sees it, then the session's typed facts."""
    listed = "\n".join(f"- ({f.kind.value}) {f.text}" for f in facts)
    return f"{render_messages(messages)}\n\nFacts:\n{listed or '- (none)'}"
