"""The user profile (core memory): who the user is right now — name, home, work, family and
pets, health constraints, lasting preferences — assembled from their current typed facts
and put first into every resumption context, a fresh start and a resume before the user
has said anything included. Pure functions."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from memory.core.domain import FactKind
from memory.core.records import Fact, UserStyle

MAX_PREFERENCES = 5
MAX_HEALTH = 4
MAX_RELATIONS = 6
# Statements typed by their cues or nearest examples carry no attribute: a few of them, the
# most important, may add to the identity the patterns read out.
MAX_UNATTRIBUTED_IDENTITY = 3
# Health constraints matter most when they are forgotten: a recipe, a restaurant, a trip.
_HEALTH = re.compile(
    r"\b(allerg\w*|intoleran\w*|diabet\w*|asthma|celiac|coeliac|gluten|lactose|vegan|"
    r"vegetarian|pescatarian|halal|kosher|epilep\w*|pregnan\w*|medication|condition|"
    r"can't eat|cannot eat|diet)\b",
    re.IGNORECASE,
)
# Attributes in the order a person would introduce someone.
_ORDER = ("name", "age", "residence", "origin", "occupation", "employer")


def _rank(fact: Fact) -> tuple[int, float]:
    attribute = (fact.attribute or "").split(":")[0]
    position = _ORDER.index(attribute) if attribute in _ORDER else len(_ORDER)
    return position, -fact.importance


@dataclass(frozen=True)
class Profile:
    """The user's core memory, in the order a person would introduce someone."""

    identity: tuple[Fact, ...]
    health: tuple[Fact, ...]
    people: tuple[Fact, ...]
    preferences: tuple[Fact, ...]
    pinned: tuple[Fact, ...] = ()  # asked to be kept in view: first, whatever else is here


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{3,}", text.lower()))


def profile(facts: Sequence[Fact]) -> Profile:
    """The profile's facts, most defining first: identity (name, home, work), health
    constraints, family and pets, then the strongest lasting preferences. Only current
    facts count; a superseded value is history, not the profile. Observations only ever
    enter as health constraints, and only when no typed fact already says the same, or when
    pinned: a pinned fact of any kind is in the profile, ahead of the rest."""
    current = [f for f in facts if f.valid_to is None and f.superseded_by is None]
    pinned = tuple(sorted((f for f in current if f.pinned), key=lambda f: (f.valid_from, f.id)))
    current = [f for f in current if not f.pinned]
    typed_health = [
        f for f in current if f.kind is not FactKind.OBSERVATION and _HEALTH.search(f.text)
    ]
    said = [_words(f.text) for f in typed_health]
    observed_health = [
        f
        for f in current
        if f.kind is FactKind.OBSERVATION
        and _HEALTH.search(f.text)
        and not any(words <= _words(f.text) for words in said)
    ]
    health = sorted(typed_health, key=lambda f: -f.importance) + sorted(
        observed_health, key=lambda f: -f.importance
    )
    about = [f for f in current if f.kind is FactKind.PROFILE and f not in typed_health]
    identity = _unrepeated(
        sorted((f for f in about if f.attribute), key=_rank)
        + sorted((f for f in about if not f.attribute), key=lambda f: -f.importance)[
            :MAX_UNATTRIBUTED_IDENTITY
        ]
    )
    # A pattern's fact (it has an attribute) before a statement typed by its cues.
    relations = sorted(
        (f for f in current if f.kind is FactKind.RELATION), key=lambda f: f.attribute is None
    )[:MAX_RELATIONS]
    preferences = sorted(
        (f for f in current if f.kind is FactKind.PREFERENCE and f not in typed_health),
        key=lambda f: (f.attribute is None, -f.importance, -f.valid_from.timestamp()),
    )[:MAX_PREFERENCES]
    return Profile(
        tuple(identity), tuple(health[:MAX_HEALTH]), tuple(relations), tuple(preferences), pinned
    )


def _unrepeated(facts: Sequence[Fact]) -> list[Fact]:
    """Without a line that another one already says in full: "Works in Lisbon" beside
    "Works as a product manager at a logistics company in Lisbon" (kept apart so that
    either can change on its own)."""
    said = [_words(f.text) for f in facts]
    return [
        f for f, words in zip(facts, said, strict=True) if not any(words < other for other in said)
    ]


def described(style: UserStyle | None) -> str | None:
    """How the user talks, in one line for the context block (None before it is known)."""
    if style is None or style.messages == 0:
        return None
    words = style.words_per_message
    length = "briefly" if words < 12 else "at length" if words > 40 else "in moderate length"
    register = (
        "formally"
        if style.formality > 0.65
        else "casually"
        if style.formality < 0.35
        else "in a neutral register"
    )
    parts = [f"Writes {length} (about {words:.0f} words a message), {register}"]
    if style.technical >= 0.3:
        parts.append("comfortable with technical detail")
    if style.tone >= 0.3:
        parts.append("recently upbeat")
    elif style.tone <= -0.3:
        parts.append("recently down or frustrated")
    if style.subjects:
        parts.append("talks most about " + ", ".join(style.subjects[:3]))
    return "; ".join(parts) + "."
