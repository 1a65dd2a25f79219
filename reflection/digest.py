"""Session digests without a model: the topics, decisions and open loops of a session and a
short abstract, from its messages and the facts extracted from them. A digest never quotes a
message: only counts, dates, topic words and the texts of facts reach it. Pure functions."""

import re
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from memory.domain import FactKind, Role
from memory.records import Fact, Message

_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]{3,}")
_STOPWORDS = frozenset(
    """
about above after again against also although always another anything around because been
before being below between both cannot could didn't does doesn't doing done down during each
either else even ever every from further going gonna good great have haven't having hello
here hers herself himself into it's just know like little made make many maybe more most much
must myself need never next nothing okay only other ought ours ourselves over please pretty
quite really right said same should since some something still such sure than thank thanks
that that's their theirs them themselves then there these they thing things think this those
though through today tomorrow too under until very want wanted well were what when where
which while will with within without would yeah year years your yours yourself yourselves
actually anyway back call come feel first getting give help keep last long look lots mean
much nice people plan probably same seems sounds start stuff take tell time trying wait week
weekend work yesterday along kept love loved hate hated morning evening night news big
awesome really good great guess hope lovely love glad happy sorry fine hi hey intense here
there near once twice know anyone anybody someone everyone
""".split()  # noqa: SIM905 - a word list reads better as text than as 200 quoted strings
)


# Words of the shape of extracted statements, which say nothing about the subject.
_STATEMENT_WORDS = frozenset(
    """
works lives likes dislikes prefers plans decided chose wondered sure named moved said
around this next their they them has have is are was were
""".split()  # noqa: SIM905 - a word list reads better as text
)


@dataclass(frozen=True)
class Digest:
    text: str
    topics: tuple[str, ...]
    decisions: tuple[str, ...]
    open_loops: tuple[str, ...]
    retells: tuple[uuid.UUID, ...] = ()  # the messages its text retells


def topics(
    messages: Sequence[Message], facts: Sequence[Fact] = (), limit: int = 5
) -> tuple[str, ...]:
    """The session's subjects: informative words the user said, weighted up when a fact
    was extracted about them or they are names (capitalized mid-sentence)."""
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}

    def count(word: str, weight: int) -> None:
        key = word.lower().strip("'-")
        if key not in _STOPWORDS and key not in _STATEMENT_WORDS and len(key) >= 4:
            counts[key] += weight
            first_seen.setdefault(key, len(first_seen))

    for message in messages:
        if message.role is Role.USER:
            for match in _WORD.finditer(message.content):
                preceding = _before(message.content, match.start())
                named = match.group()[0].isupper() and preceding not in ("", ".", "!", "?")
                count(match.group(), 3 if named else 1)
    for fact in facts:
        for word in _WORD.findall(re.sub(r"\(.*?\)", "", fact.text)):
            count(word, 2)
    ranked = sorted(counts, key=lambda w: (-counts[w], first_seen[w]))
    return tuple(ranked[:limit])


SUMMARY_OBSERVATIONS = 1


def highlights(facts: Sequence[Fact], limit: int = SUMMARY_OBSERVATIONS) -> list[Fact]:
    """The session's most important observations, in the order they were said: what a
    person would retell of it (already third person, dates resolved, redacted)."""
    observed = [f for f in facts if f.kind is FactKind.OBSERVATION]
    chosen = sorted(observed, key=lambda f: (-f.importance, f.valid_from, f.id))[:limit]
    return sorted(chosen, key=lambda f: (f.valid_from, f.id))


def digest(messages: Sequence[Message], facts: Sequence[Fact]) -> Digest:
    """Summarize one session: what it was about, its most important observations, what was
    decided, what was left open."""
    retold = highlights(facts)
    said = [f.text for f in retold]
    facts = [f for f in facts if f.kind is not FactKind.OBSERVATION]
    found = topics(messages, facts)
    decisions = tuple(f.text for f in facts if f.kind is FactKind.DECISION)
    open_loops = tuple(f.text for f in facts if f.kind in (FactKind.OPEN_QUESTION, FactKind.PLAN))
    start, end = messages[0].created_at, messages[-1].created_at
    parts = [
        f"{len(messages)} messages on {start:%Y-%m-%d}"
        + (f" to {end:%Y-%m-%d}" if end.date() != start.date() else "")
        + "."
    ]
    if said:  # what happened, as a person would retell it; the topics stay data
        parts.extend(said)
    elif found:
        parts.append(f"Talked about {_listing(found[:3])}.")
    parts += [_sentence(d) for d in decisions[:3]]
    if open_loops:
        parts.append(f"Still open: {'; '.join(o.rstrip('.') for o in open_loops[:2])}.")
    retells = tuple(dict.fromkeys(m for f in retold for m in f.source_message_ids))
    return Digest(" ".join(parts), found, decisions, open_loops, retells)


def _sentence(statement: str) -> str:
    return statement if statement.endswith((".", "!", "?")) else statement + "."


def _listing(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" and {words[-1]}"


def _before(text: str, index: int) -> str:
    """The last character before `index` that is not whitespace ("" at the start)."""
    while index > 0 and text[index - 1].isspace():
        index -= 1
    return text[index - 1 : index]
