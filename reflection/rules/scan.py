"""The scan: each user message, sentence by sentence, through every rule in turn, with what
the user said just before at hand; then the open questions of the whole stretch."""

import re
from collections.abc import Iterator, Sequence
from itertools import islice

from memory.core.domain import FactKind, Role
from memory.core.records import Message
from reflection.rules import (
    decisions,
    events,
    health,
    people,
    plans,
    preferences,
    profile,
    work,
)
from reflection.rules.base import SENTENCE, Person, Rule, RuleFact, Said, apostrophes
from reflection.rules.questions import open_questions

# Profile and health first: a job or a diet is what "I'm a…" means before anything else.
RULES: tuple[Rule, ...] = (
    *work.RULES,
    *profile.RULES,
    *health.RULES,
    *people.RULES,
    *preferences.RULES,
    *decisions.RULES,
    *plans.RULES,
    *events.RULES,
)
# Kinds said once per stretch of a sentence: where a plan was found, a second rule reading
# the same words as another plan would only say it again.
_ONE_PER_SPAN = frozenset({FactKind.PLAN, FactKind.DECISION, FactKind.EVENT})
# "if I moved to Berlin", "do you think I'm allergic to…": a supposition, or a question
# about it, says nothing of the user.
_SUPPOSED = re.compile(
    r"\b(?:if|what if|unless|suppose|supposing|imagine|pretend|whether|as if|even if"
    r"|(?:do|would) you think|is it possible that|could it be that|wonder if)\s+$",
    re.IGNORECASE,
)
_RECENT_CHARS = 600  # what the user said just before, for "Mia is 7" and "her fiancé"

# A message stops being scanned after this many facts (the highest `max_facts_per_message`
# allowed); the extractor keeps the most important of them.
MAX_FACTS_SCANNED = 200


def extract_rules(
    messages: Sequence[Message], per_message: int = MAX_FACTS_SCANNED
) -> list[RuleFact]:
    """The facts the patterns find in the user's messages, in message order: at most
    `per_message` from one message's sentences, plus its open question."""
    found: list[RuleFact] = []
    people: list[Person] = []
    recent = ""
    for message in messages:
        if message.role is not Role.USER:
            continue
        text = apostrophes(message.content)
        found.extend(islice(_facts_in_message(text, message, recent, people), per_message))
        recent = (recent + " " + text)[-_RECENT_CHARS:]
    found.extend(open_questions(messages))
    return found


def _facts_in_message(
    text: str, message: Message, recent: str, people: list[Person]
) -> Iterator[RuleFact]:
    for sentence in SENTENCE.split(text):
        yield from _facts_in(Said(sentence.strip(), message, recent, people))
        recent = (recent + " " + sentence)[-_RECENT_CHARS:]


def _facts_in(said: Said) -> Iterator[RuleFact]:
    claimed: list[tuple[FactKind, int, int]] = []
    for rule in RULES:
        for match in rule.pattern.finditer(said.sentence):
            start, end = match.span()
            if _SUPPOSED.search(said.sentence[max(0, start - 24) : start]):
                continue
            facts = [
                f
                for f in rule.build(match, said)
                if f.kind not in _ONE_PER_SPAN
                or not any(k is f.kind and s < end and start < e for k, s, e in claimed)
            ]
            claimed.extend((f.kind, start, end) for f in facts)
            yield from facts
