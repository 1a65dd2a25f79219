"""Rule-based extraction, the offline default: deterministic patterns over what the user
says about themselves — occupation, home, origin, people and pets, likes and dislikes,
plans and commitments with dates, decisions — and the questions they asked that went
unanswered. Precise rather than exhaustive: a pattern that fires should be right.

Bounded on any input: every capture has a maximum length, so each pattern does constant work
per position of a message, and a message stops being scanned after `MAX_FACTS_SCANNED`."""

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from memory.domain import FactKind, Role
from memory.records import Message

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_STOP_TAIL = re.compile(
    r"\s+(?:and|but|because|so|which|who|though|although|since|when)\b.*$", re.IGNORECASE
)
_OCCUPATION_ENDINGS = (
    "er",
    "or",
    "ist",
    "ian",
    "ant",
    "ent",
    "nurse",
    "chef",
    "cook",
    "student",
    "doctor",
    "pilot",
    "surgeon",
    "nanny",
    "vet",
    "medic",
)
_NOT_OCCUPATIONS = {
    "bit",
    "lot",
    "little",
    "fan",
    "big",
    "huge",
    "better",
    "user",
    "other",
    "number",
    "member",
    "beginner",
    "newcomer",
    "winner",
    "loser",
    "another",
}
_RELATIONS = (
    "wife",
    "husband",
    "partner",
    "girlfriend",
    "boyfriend",
    "fiance",
    "fiancee",
    "son",
    "daughter",
    "mom",
    "mother",
    "dad",
    "father",
    "brother",
    "sister",
    "grandma",
    "grandmother",
    "grandpa",
    "grandfather",
    "aunt",
    "uncle",
    "cousin",
    "friend",
    "best friend",
    "boss",
    "manager",
    "colleague",
    "coworker",
    "roommate",
    "neighbor",
    "dog",
    "cat",
    "puppy",
    "kitten",
    "horse",
    "parrot",
    "hamster",
)
_MONTHS = (
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
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WHEN = re.compile(
    r"\b(today|tonight|tomorrow|next (?:week|month|year|weekend)|this (?:week|weekend|month)"
    r"|(?:on |next |this )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r"|in (?:january|february|march|april|may|june|july|august|september|october|november"
    r"|december)|in \d+ (?:days|weeks|months))\b",
    re.IGNORECASE,
)
# A capitalized name in any alphabet's Latin letters: "Mia", "Inês", "Zoë".
_NAME = r"[A-ZÀ-ÖØ-Þ][^\W\d_]{1,40}"
# A place of up to six capitalized words: "Porto", "New York".
_PLACE = r"[A-Z][\w\-]{1,40}(?: [A-Z][\w\-]{1,40}){0,5}"
# A phrase up to the next punctuation or clause word ("hiking and I like coffee": "hiking").
_PHRASE = r"(?:(?!\b(?:and|but|because|so|or|which|when|while)\b)[^,.;!?]){2,60}"
_UNSURE = re.compile(
    r"\b(i don't know|i do not know|not sure|i can't|i cannot|no idea)\b", re.IGNORECASE
)

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "occupation",
        re.compile(
            r"\bi(?:'m| am) (?:an? )?(?P<x>[a-z][a-z\- ]{2,40}?) by (?:profession|trade)\b"
            r"|\bi work as (?:an? )?(?P<y>[a-z][^,.;!?]{2,80})"
            r"|\bmy (?:job|profession|occupation) is (?:being )?(?:an? )?(?P<z>[a-z][^,.;!?]{2,80})"
            r"|\bi(?:'m| am) (?:an? )(?P<w>[a-z][a-z\-]{2,30}(?: [a-z][a-z\-]{2,30})?)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "residence",
        re.compile(
            r"\b(?i:i (?:currently |now )?(?:live|am living|'m living|reside) in) "
            r"(?P<x>" + _PLACE + ")"
        ),
    ),
    (
        "moved",
        re.compile(
            r"\b(?i:i (?:just |recently |finally )?(?:moved|relocated) to) "
            r"(?P<x>" + _PLACE + ")"
        ),
    ),
    (
        "origin",
        re.compile(r"\b(?i:i(?:'m| am) (?:originally )?from) (?P<x>" + _PLACE + ")"),
    ),
    ("name", re.compile(r"\b(?i:my name is) (?P<x>[A-Z][a-z]+(?: [A-Z][a-z]+)?)")),
    ("age", re.compile(r"\bi(?:'m| am) (?P<x>\d{1,3}) years old\b", re.IGNORECASE)),
    (
        "relation",
        re.compile(
            r"\b(?i:my (?P<rel>" + "|".join(_RELATIONS) + r")(?:'s name is|,)?"
            r" (?:is |named |called )?)(?P<x>" + _NAME + r")\b",
        ),
    ),
    (
        "dislike",
        re.compile(
            r"\bi (?:really |truly )?(?:hate|dislike|can't stand|cannot stand|don't like"
            r"|do not like|no longer like|don't enjoy|am not a fan of|'m not a fan of)"
            r" (?P<x>" + _PHRASE + r")",
            re.IGNORECASE,
        ),
    ),
    (
        "like",
        re.compile(
            r"\bi (?!don't |do not |no longer )(?:really |absolutely |truly )?"
            r"(?P<v>love|like|enjoy|adore|prefer)"
            r" (?P<x>" + _PHRASE + r")",
            re.IGNORECASE,
        ),
    ),
    (
        "decision",
        re.compile(
            r"\b(?:i|we)(?:'ve| have)? (?:finally )?decided (?:to |that |on )?(?P<x>[^.;!?]{3,100})"
            r"|\b(?:let's|let us|i'll|i will) go with (?P<y>[^.;!?]{2,80})"
            r"|\bi(?:'ve| have) chosen (?P<z>[^.;!?]{2,80})",
            re.IGNORECASE,
        ),
    ),
    (
        "plan",
        re.compile(
            r"\bi(?:'m| am) (?:planning|going|hoping|about|scheduled) to (?P<x>[^.;!?]{3,100})"
            r"|\bi (?:plan|intend|need|have|want|promised) to (?P<y>[^.;!?]{3,100})"
            r"|\bi(?:'ll| will) (?!go with)(?P<z>[^.;!?]{3,100})",
            re.IGNORECASE,
        ),
    ),
]


@dataclass(frozen=True)
class RuleFact:
    kind: FactKind
    text: str
    attribute: str | None
    importance: float
    confidence: float
    message: Message


_PRONOUNS = {
    "my": "their",
    "mine": "theirs",
    "me": "them",
    "i": "they",
    "myself": "themself",
    "i'm": "they're",
    "i've": "they've",
    "i'll": "they'll",
    "we": "they",
    "our": "their",
    "us": "them",
}


_FILLER_TAIL = re.compile(
    r"(?:\s+(?:anymore|any more|these days|nowadays|lately|now|a lot|so much|very much"
    r"|too|as well|either|at all|though))+$",
    re.IGNORECASE,
)


def _clean(value: str) -> str:
    """The captured phrase, cut at the next clause, without trailing fillers, in the third
    person."""
    trimmed = _FILLER_TAIL.sub("", _STOP_TAIL.sub("", value).strip(" ,;:-'\""))
    words = trimmed.split()
    return " ".join(_PRONOUNS.get(w.lower(), w) for w in words)


def _first(match: re.Match[str]) -> str:
    return next(v for k, v in match.groupdict().items() if k != "rel" and k != "v" and v)


def _date_note(sentence: str, said_at: datetime) -> str:
    """The date a plan refers to, resolved against when it was said."""
    found = _WHEN.search(sentence)
    if found is None:
        return f" (said {said_at:%Y-%m-%d})"
    phrase = found.group(1).lower()
    target = _resolve(phrase, said_at)
    if target is None:
        return f" ({phrase}; said {said_at:%Y-%m-%d})"
    when = f"{target:%Y-%m}" if phrase.startswith("in ") else f"{target:%Y-%m-%d}"
    return f" ({phrase}, around {when}; said {said_at:%Y-%m-%d})"


def _resolve(phrase: str, said_at: datetime) -> datetime | None:
    offsets = {
        "today": 0,
        "tonight": 0,
        "tomorrow": 1,
        "next week": 7,
        "this week": 0,
        "this weekend": (5 - said_at.weekday()) % 7,
        "next weekend": 7 + (5 - said_at.weekday()) % 7,
        "next month": 30,
        "this month": 0,
        "next year": 365,
    }
    if phrase in offsets:
        return said_at + timedelta(days=offsets[phrase])
    day = phrase.split()[-1]
    if phrase.startswith("in ") and day in _MONTHS:
        month = _MONTHS.index(day) + 1
        year = said_at.year + (month < said_at.month)
        return said_at.replace(year=year, month=month, day=1)
    if day in _WEEKDAYS:
        ahead = (_WEEKDAYS.index(day) - said_at.weekday()) % 7 or 7
        return said_at + timedelta(days=ahead + (7 if phrase.startswith("next ") else 0))
    return None


_WHERE = re.compile(r"\s+(?=(?:at|in|for|with|from|on)\b)", re.IGNORECASE)


def _occupation(match: re.Match[str]) -> tuple[str, str] | None:
    """The job ("product manager") and where it is held ("at a logistics company")."""
    parts = _WHERE.split(_clean(_first(match)), maxsplit=1)
    job, where = parts[0].lower(), (parts[1] if len(parts) > 1 else "")
    strict = match.group("w") is not None  # "I'm a ..." alone: only occupation-like nouns
    last = job.split()[-1] if job else ""
    if strict and (last in _NOT_OCCUPATIONS or not last.endswith(_OCCUPATION_ENDINGS)):
        return None
    return (job, where) if job else None


Builder = Callable[[re.Match[str], str, Message], list[RuleFact]]


def _fact(
    kind: FactKind,
    text: str,
    attribute: str | None,
    importance: float,
    confidence: float,
    message: Message,
) -> list[RuleFact]:
    return [RuleFact(kind, text, attribute, importance, confidence, message)]


def _occupation_fact(match: re.Match[str], _: str, message: Message) -> list[RuleFact]:
    found = _occupation(match)
    if not found:
        return []
    job, where = found
    text = f"Works as {_article(job)}" + (f" {where}" if where else "")
    return _fact(FactKind.PROFILE, text, "occupation", 0.7, 0.7, message)


def _residence_fact(match: re.Match[str], _: str, message: Message) -> list[RuleFact]:
    place = _clean(_first(match))
    return _fact(FactKind.PROFILE, f"Lives in {place}", "residence", 0.7, 0.8, message)


def _moved_fact(match: re.Match[str], sentence: str, message: Message) -> list[RuleFact]:
    place = _clean(_first(match))
    moved = f"Moved to {place} (by {message.created_at:%Y-%m-%d})"
    return [
        *_residence_fact(match, sentence, message),
        *_fact(FactKind.EVENT, moved, None, 0.6, 0.8, message),
    ]


def _origin_fact(match: re.Match[str], _: str, message: Message) -> list[RuleFact]:
    return _fact(FactKind.PROFILE, f"Is from {_clean(_first(match))}", "origin", 0.6, 0.8, message)


def _name_fact(match: re.Match[str], _: str, message: Message) -> list[RuleFact]:
    return _fact(FactKind.PROFILE, f"Is named {match.group('x')}", "name", 0.8, 0.9, message)


def _age_fact(match: re.Match[str], _: str, message: Message) -> list[RuleFact]:
    text = f"Is {match.group('x')} years old (as of {message.created_at:%Y-%m-%d})"
    return _fact(FactKind.PROFILE, text, "age", 0.5, 0.9, message)


def _relation_fact(match: re.Match[str], _: str, message: Message) -> list[RuleFact]:
    rel, who = match.group("rel").lower(), match.group("x")
    if who.lower() in {"is", "and", "the", "a", "has", "was", "just", "i"}:
        return []
    attribute = f"relation:{rel}:{who.lower()}"
    return _fact(FactKind.RELATION, f"Has a {rel} named {who}", attribute, 0.6, 0.8, message)


def _dislike_fact(match: re.Match[str], _: str, message: Message) -> list[RuleFact]:
    thing = _clean(match.group("x"))
    attribute = f"preference:{thing.lower()}"
    return _fact(FactKind.PREFERENCE, f"Dislikes {thing}", attribute, 0.5, 0.7, message)


def _like_fact(match: re.Match[str], _: str, message: Message) -> list[RuleFact]:
    thing = _clean(match.group("x"))
    if not thing or thing.lower().split()[0] in {"to", "it", "that", "this", "you", "how"}:
        return []
    text = f"Prefers {thing}" if match.group("v").lower() == "prefer" else f"Likes {thing}"
    return _fact(FactKind.PREFERENCE, text, f"preference:{thing.lower()}", 0.5, 0.7, message)


def _decision_fact(match: re.Match[str], _: str, message: Message) -> list[RuleFact]:
    text = f"Decided: {_clean(_first(match))} ({message.created_at:%Y-%m-%d})"
    return _fact(FactKind.DECISION, text, None, 0.7, 0.8, message)


def _plan_fact(match: re.Match[str], sentence: str, message: Message) -> list[RuleFact]:
    intent = _clean(_first(match))
    if len(intent.split()) < 2:
        return []
    # The date is looked for near the plan, not in the whole of a sentence of any length.
    near = sentence[max(0, match.start() - _DATE_REACH) : match.end() + _DATE_REACH]
    text = f"Plans to {intent}{_date_note(near, message.created_at)}"
    return _fact(FactKind.PLAN, text, None, 0.6, 0.6, message)


_DATE_REACH = 80  # characters either side of a plan where its date may be said

_BUILDERS: dict[str, Builder] = {
    "occupation": _occupation_fact,
    "residence": _residence_fact,
    "moved": _moved_fact,
    "origin": _origin_fact,
    "name": _name_fact,
    "age": _age_fact,
    "relation": _relation_fact,
    "dislike": _dislike_fact,
    "like": _like_fact,
    "decision": _decision_fact,
    "plan": _plan_fact,
}


def _facts_in(sentence: str, message: Message) -> Iterator[RuleFact]:
    for name, pattern in _PATTERNS:
        for match in pattern.finditer(sentence):
            yield from _BUILDERS[name](match, sentence, message)


def _article(job: str) -> str:
    return f"an {job}" if job[:1] in "aeiou" else f"a {job}"


def _unanswered(messages: Sequence[Message]) -> Iterator[RuleFact]:
    """User questions with no assistant reply after them, or a reply that did not know."""
    for index, message in enumerate(messages):
        if message.role is not Role.USER or "?" not in message.content:
            continue
        reply = next((m for m in messages[index + 1 :] if m.role is Role.ASSISTANT), None)
        if reply is not None and not _UNSURE.search(reply.content):
            continue
        questions = [s.strip() for s in _SENTENCE.split(message.content) if s.strip().endswith("?")]
        for question in questions[-1:]:
            text = f"Asked, still open: {_shortened(question)}"
            yield RuleFact(FactKind.OPEN_QUESTION, text, None, 0.5, 0.6, message)


_MAX_QUESTION_CHARS = 300  # every other fact is bounded by its pattern's captures


def _shortened(question: str) -> str:
    if len(question) <= _MAX_QUESTION_CHARS:
        return question
    return question[: _MAX_QUESTION_CHARS - 2].rstrip() + " …?"


# A message stops being scanned after this many facts (the highest `max_facts_per_message`
# allowed); the extractor keeps the most important of them.
MAX_FACTS_SCANNED = 200


def extract_rules(
    messages: Sequence[Message], per_message: int = MAX_FACTS_SCANNED
) -> list[RuleFact]:
    """The facts the patterns find in the user's messages, in message order: at most
    `per_message` from one message's sentences, plus its open question."""
    found: list[RuleFact] = []
    for message in messages:
        if message.role is not Role.USER:
            continue
        sentences = _SENTENCE.split(message.content)
        facts = (fact for s in sentences for fact in _facts_in(s.strip(), message))
        found.extend(islice(facts, per_message))
    found.extend(_unanswered(messages))
    return found
