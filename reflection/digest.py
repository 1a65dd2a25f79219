"""Session digests without a model: the topics, decisions and open loops of a session and a
short abstract, from its messages and the facts extracted from them. A digest never quotes a
message: only counts, dates, topic words and the texts of facts reach it. Pure functions."""

import re
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from memory.core.domain import FactKind, Role
from memory.core.records import Fact, Message

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
works lives live lived likes dislikes prefers plans decided chose wondered sure named moved said
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
    headline: str = ""  # what a person would title the session with (the journal does)


def topics(
    messages: Sequence[Message], facts: Sequence[Fact] = (), limit: int = 5
) -> tuple[str, ...]:
    """The session's subjects: informative words the user said, weighted up when a fact
    was extracted about them or they are names (capitalized mid-sentence, and kept so).
    The user's own name is who they are, not what they talked about."""
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    shown: dict[str, str] = {}
    own = {w.lower() for f in facts if f.attribute == "name" for w in _WORD.findall(f.text)}

    def count(word: str, weight: int, named: bool = False) -> None:
        key = word.lower().strip("'-")
        if key in own or key in _STOPWORDS or key in _STATEMENT_WORDS or len(key) < 4:
            return
        counts[key] += weight
        first_seen.setdefault(key, len(first_seen))
        if named:
            shown.setdefault(key, word.strip("'-"))

    for word, named in _said_words(messages):
        count(word, 3 if named else 1, named)
    for fact in facts:
        for word in _WORD.findall(_DATED.sub("", fact.text)):
            count(word, 2)
    ranked = sorted(counts, key=lambda w: (-counts[w], first_seen[w]))
    return tuple(shown.get(w, w) for w in ranked[:limit])


def _said_words(messages: Sequence[Message]) -> Iterator[tuple[str, bool]]:
    """The user's words, each with whether it is a name (capitalized mid-sentence)."""
    for message in messages:
        if message.role is Role.USER:
            for match in _WORD.finditer(message.content):
                preceding = _before(message.content, match.start())
                named = match.group()[0].isupper() and preceding not in ("", ".", "!", "?")
                yield match.group(), named


SUMMARY_OBSERVATIONS = 1
_MAX_DECISIONS = 3
_MAX_OPEN = 2
_HEADLINE_CHARS = 80
# A fact's dating note, "(this sunday, around 2026-03-15; said 2026-03-12)": data for
# recall, noise in a title, where the journal's heading already carries the date.
# Linear on any text: no `\s*` ahead of the match, which made a run of spaces quadratic.
_DATED = re.compile(r" ?\([^()]*\)")
_SAID = re.compile(r";? ?\bsaid \d{4}-\d{2}-\d{2}")


# What a retelling is made of: what was observed, and what happened.
_RETELLABLE = frozenset({FactKind.OBSERVATION, FactKind.EVENT})


def highlights(facts: Sequence[Fact], limit: int = SUMMARY_OBSERVATIONS) -> list[Fact]:
    """The session's most important observations and events, in the order they were said:
    what a person would retell of it (already third person, dates resolved, redacted)."""
    observed = [f for f in facts if f.kind in _RETELLABLE]
    chosen = sorted(observed, key=lambda f: (-f.importance, f.valid_from, f.id))[:limit]
    return sorted(chosen, key=lambda f: (f.valid_from, f.id))


def digest(messages: Sequence[Message], facts: Sequence[Fact]) -> Digest:
    """Summarize one session as a few sentences a person would write: what happened that
    matters (its most important observations), what was decided, what is still planned
    and what was left unanswered. Only a session with nothing to remember falls back to
    naming its subjects."""
    retold = highlights(facts)
    typed = [f for f in facts if f.kind is not FactKind.OBSERVATION]
    found = topics(messages, typed)
    decisions = tuple(f.text for f in typed if f.kind is FactKind.DECISION)
    plans = [f.text for f in typed if f.kind is FactKind.PLAN]
    questions = [f.text for f in typed if f.kind is FactKind.OPEN_QUESTION]
    day = f"{messages[-1].created_at:%Y-%m-%d}"
    parts: list[str] = []
    for said in (
        *(f.text for f in retold),
        *decisions[:_MAX_DECISIONS],
        *plans[:_MAX_OPEN],
        *(f"Left unanswered: {q}" for q in questions[:_MAX_OPEN]),
    ):
        if not any(_retold(said, part) for part in parts):
            parts.append(_sentence(_undated(said, day)))
    if not parts:
        parts.append(f"Talked about {_listing(found[:3])}." if found else "Small talk.")
    headline = next(iter([*decisions, *(f.text for f in retold), *plans, *questions]), "")
    retells = tuple(dict.fromkeys(m for f in retold for m in f.source_message_ids))
    return Digest(
        " ".join(parts),
        found,
        decisions,
        (*plans, *questions),
        retells,
        title(headline) if headline else _listing(found[:3]),
    )


def _undated(statement: str, day: str) -> str:
    """A statement as the session's summary says it: the summary is dated, so its facts
    need not say when they were said, nor carry the session's own date."""
    plain = _SAID.sub("", statement).replace(f" ({day})", "").replace(f"; {day})", ")")
    return plain.replace(" ()", "")


def _retold(statement: str, sentence: str) -> bool:
    """Whether `sentence` already says most of `statement` (a plan the highlight told)."""
    words = set(_WORD.findall(_DATED.sub("", statement).lower())) - _STATEMENT_WORDS
    return bool(words) and len(words & set(_WORD.findall(sentence.lower()))) >= 0.7 * len(words)


def title(statement: str) -> str:
    """A statement cut to a heading: without its dating note, at most a line long."""
    line = " ".join(_DATED.sub("", statement).split()).rstrip(".")
    if len(line) <= _HEADLINE_CHARS:
        return line
    return line[: _HEADLINE_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _sentence(statement: str) -> str:
    return statement if statement.endswith((".", "!", "?")) else statement + "."


def _listing(words: Sequence[str]) -> str:
    if not words:
        return ""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" and {words[-1]}"


def _before(text: str, index: int) -> str:
    """The last character before `index` that is not whitespace ("" at the start)."""
    while index > 0 and text[index - 1].isspace():
        index -= 1
    return text[index - 1 : index]
