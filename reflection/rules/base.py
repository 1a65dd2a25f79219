"""What every rule shares: the fact a rule yields, the rule itself (a pattern and the builder
that turns one match into facts), what a builder may look at besides its match, and the
bounded sub-patterns and text helpers the patterns are written with."""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from memory.core.domain import FactKind
from memory.core.records import Message


@dataclass(frozen=True)
class RuleFact:
    kind: FactKind
    text: str
    attribute: str | None
    importance: float
    confidence: float
    message: Message
    occurs_at: datetime | None = None  # when a plan takes place, when it says


@dataclass(frozen=True)
class Person:
    """Someone the user named, so a later "her fiancé Marco" knows whose fiancé."""

    relation: str
    name: str


@dataclass(frozen=True)
class Said:
    """One sentence of a user's message, with what came just before it: the user's recent
    words (bounded) and the people named so far in this extraction (builders append)."""

    sentence: str
    message: Message
    recent: str = ""
    people: list[Person] = field(default_factory=list)


def said_before(said: Said, position: int, reach: int) -> str:
    """At most `reach` characters of what the user said just before `position` of the
    sentence, the recent words included: a window, never the whole of a long message."""
    window = said.sentence[max(0, position - reach) : position]
    if len(window) < reach:
        window = (said.recent + " " + window)[-reach:]
    return window


Builder = Callable[[re.Match[str], Said], Sequence[RuleFact]]


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    build: Builder


SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# A capitalized name in any alphabet's Latin letters: "Mia", "Inês", "Zoë".
NAME = r"[A-ZÀ-ÖØ-Þ][^\W\d_]{1,40}"
# A place of up to six capitalized words: "Porto", "New York".
PLACE = r"[A-Z][\w\-]{1,40}(?: [A-Z][\w\-]{1,40}){0,5}"
# A phrase up to the next punctuation or clause word ("hiking and I like coffee": "hiking").
PHRASE = r"(?:(?!\b(?:and|but|because|so|or|which|when|while)\b)[^,.;!?]){2,60}"
# Adverbs users put between "I" and a verb: "I really love", "I much prefer".
ADVERBS = (
    r"(?:(?:really|absolutely|truly|much|definitely|generally|usually|always|still|also"
    r"|properly|seriously|pretty|super"
    r"|actually|do|mostly|especially|genuinely|honestly|kinda|quite|totally|just|so|deeply"
    r"|particularly|personally|secretly|very much|kind of|sort of|pretty much) ){0,2}"
)
# What people put between "I" or "we" and the verb of a fact about them: "we actually live
# in Kinsale now", "I currently work for…".
SUBJECT_ADVERBS = (
    r"(?:(?:currently|now|still|also|actually|really|just|officially|finally|basically"
    r"|mostly|kind of|sort of) ){0,2}"
)
# Contractions typed without their apostrophe, as people type on a phone: "ive gone vegan",
# "im a nurse", "dont eat pork". Only the ones that are no other word.
_BARE_CONTRACTIONS = {
    "im": "I'm",
    "ive": "I've",
    "dont": "don't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "cant": "can't",
    "isnt": "isn't",
    "wasnt": "wasn't",
    "arent": "aren't",
    "havent": "haven't",
    "hasnt": "hasn't",
    "wouldnt": "wouldn't",
    "couldnt": "couldn't",
    "shouldnt": "shouldn't",
    "thats": "that's",
    "whats": "what's",
    "theyre": "they're",
    "youre": "you're",
    "weve": "we've",
    "theyve": "they've",
    "hes": "he's",
    "shes": "she's",
}
_BARE = re.compile(r"\b(?:" + "|".join(_BARE_CONTRACTIONS) + r")\b", re.IGNORECASE)


def apostrophes(text: str) -> str:
    """`text` with typographic apostrophes plain and the contractions typed without one
    given theirs back ("ive" -> "I've")."""
    text = text.replace("\u2019", "'")
    return _BARE.sub(lambda m: _BARE_CONTRACTIONS[m.group(0).lower()], text)


MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Capitalized words a PLACE or NAME pattern may take for one that are neither.
NOT_NAMES = frozenset(
    {m.capitalize() for m in MONTHS}
    | {d.capitalize() for d in WEEKDAYS}
    | set(
        """
It This That These Those He She They We There Here What Which Who Why How When Everything
Nothing Someone Everyone Today Tomorrow Yesterday Tonight Chapter Page Room Level Question
Version Step Score Number Part Season Episode Day Week Year Is And The Has Was Just
Christmas Easter Mr Mrs Ms Mx Miss Dr Prof Professor Sir
""".split()  # noqa: SIM905 - a word list reads better as text
    )
)

STOP_TAIL = re.compile(
    r"\s+(?:and|but|because|so|which|who|though|although|since|when)\b.*$", re.IGNORECASE
)
FILLER_TAIL = re.compile(
    r"(?:\s+(?:anymore|any more|these days|nowadays|lately|now|a lot|so much|very much"
    r"|too|as well|either|at all|though|tbh|lol|haha|honestly|really|please))+$",
    re.IGNORECASE,
)
PRONOUNS = {
    "my": "their",
    "mine": "theirs",
    "me": "them",
    "i": "they",
    "myself": "themself",
    "i'm": "they're",
    "i've": "they've",
    "i'll": "they'll",
    "i'd": "they'd",
    "we": "they",
    "our": "their",
    "ours": "theirs",
    "us": "them",
    "we're": "they're",
    "we've": "they've",
}


def clean(value: str) -> str:
    """The captured phrase, cut at the next clause, without trailing fillers, in the third
    person."""
    trimmed = FILLER_TAIL.sub("", STOP_TAIL.sub("", value).strip(" ,;:-'\""))
    return third_person(trimmed.strip(" ,;:-'\""))


def third_person(text: str) -> str:
    return " ".join(PRONOUNS.get(w.lower(), w) for w in text.split())


def first(match: re.Match[str], *names: str) -> str:
    """The first of the named groups (all of them when none is named) that matched."""
    groups = match.groupdict()
    return next((v for k, v in groups.items() if v and (not names or k in names)), "")


def article(noun: str) -> str:
    """The noun with its article: "a nurse", "an engineer", "a UX researcher"."""
    head = noun.split()[0] if noun else ""
    if head.isupper() and len(head) > 1:  # an acronym, read letter by letter
        return f"an {noun}" if head[0] in "AEFHILMNORSX" else f"a {noun}"
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def said_on(message: Message) -> str:
    return f"{message.created_at:%Y-%m-%d}"


def fact(
    kind: FactKind,
    text: str,
    attribute: str | None,
    importance: float,
    confidence: float,
    message: Message,
) -> list[RuleFact]:
    return [RuleFact(kind, text, attribute, importance, confidence, message)]
