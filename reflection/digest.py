"""Session digests without a model: the topics, decisions and open loops of a session and a
short abstract, from its messages and the facts extracted from them. Pure functions."""

import re
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
weekend work yesterday
""".split()  # noqa: SIM905 - a word list reads better as text than as 200 quoted strings
)


@dataclass(frozen=True)
class Digest:
    text: str
    topics: tuple[str, ...]
    decisions: tuple[str, ...]
    open_loops: tuple[str, ...]


def topics(messages: Sequence[Message], limit: int = 5) -> tuple[str, ...]:
    """The user's most frequent informative words, first-seen order breaking ties."""
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for message in messages:
        if message.role is not Role.USER:
            continue
        for word in _WORD.findall(message.content):
            key = word.lower().strip("'-")
            if key in _STOPWORDS or len(key) < 4:
                continue
            counts[key] += 1
            first_seen.setdefault(key, len(first_seen))
    ranked = sorted(counts, key=lambda w: (-counts[w], first_seen[w]))
    return tuple(ranked[:limit])


def digest(messages: Sequence[Message], facts: Sequence[Fact]) -> Digest:
    """Summarize one session: what it was about, what was decided, what was left open."""
    found = topics(messages)
    decisions = tuple(f.text for f in facts if f.kind is FactKind.DECISION)
    open_loops = tuple(f.text for f in facts if f.kind in (FactKind.OPEN_QUESTION, FactKind.PLAN))
    start, end = messages[0].created_at, messages[-1].created_at
    parts = [
        f"{len(messages)} messages on {start:%Y-%m-%d}"
        + (f" to {end:%Y-%m-%d}" if end.date() != start.date() else "")
        + "."
    ]
    if found:
        parts.append(f"Talked about {_listing(found[:3])}.")
    opening = next((m.content for m in messages if m.role is Role.USER), "")
    if opening:
        parts.append(f'Opened with: "{_shorten(opening, 120)}".')
    if decisions:
        parts.append(f"Decided: {'; '.join(decisions[:3])}.")
    if open_loops:
        parts.append(f"Left open: {'; '.join(open_loops[:3])}.")
    return Digest(" ".join(parts), found, decisions, open_loops)


def _listing(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" and {words[-1]}"


def _shorten(value: str, limit: int) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
