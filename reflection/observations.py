"""Observations, offline: every informative statement of either speaker, kept as a memory of
its own once the transcript is gone. Each is one sentence rewritten in the third person
with its speaker named ("Caroline went to a support group yesterday (2023-05-07)."), its
relative times resolved against when it was said, and an importance from signals. Small
talk, greetings, reactions and bare questions are dropped. Pure functions; the messages
come in redacted.

Sentences are split by pysbd; relative times are found by a short list of phrases and
resolved by dateparser against the message's own time."""

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import dateparser
import pysbd

from memory.core.domain import Role
from memory.core.records import Message

MAX_SENTENCE_CHARS = 400
MIN_CONTENT_WORDS = 4
# A reaction to the other's news is kept only when it says this much more than praise.
REACTION_CONTENT_WORDS = 6
# "Caroline: I went …": a transcript that names its speakers at the start of each message.
_SPEAKER = re.compile(r"^\s*([A-Z][\w'.-]{0,30}(?: [A-Z][\w'.-]{0,30})?):\s+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d[\d,.:/-]*")
_SMALL_TALK = frozenset(
    """
hi hey hello hiya yo bye goodbye thanks thank thx ty ok okay yeah yes yep no nope sure
wow oh ah aw aww haha hahaha lol lmao omg cool nice great awesome amazing wonderful
fantastic lovely sweet good glad happy sorry congrats congratulations cheers indeed totally
absolutely definitely right true exactly agreed same welcome bless meet fine
""".split()  # noqa: SIM905 - a word list reads better as text
)
_STOPWORDS = frozenset(
    """
a an the and or but if so to of in on at by for with from about as into than then that this
these those it its it's is are was were be been being am do does did doing have has had
having will would can could should shall may might must i me my mine myself you your yours
we us our ours he him his she her hers they them their theirs what which who whom whose
when where why how there here just really very too also not no yes all any some much many
more most such own same other only even still again ever never always too up down out off
over under what's that's i'm i've i'll i'd you're you've you'll we're they're it'll let's
get got go going gone make made know think feel felt want wanted like said say tell told
thing things stuff lot lots bit kind sort way something anything everything nothing one
he's she's they've he'll she'll isn't aren't wasn't don't doesn't didn't can't won't
""".split()  # noqa: SIM905
)
# Openers and fillers that carry nothing a later reader needs: cut, the statement kept.
_OPENER = re.compile(
    r"^(?:(?:wow|oh|ah|aw+|yeah|yes|yep|haha+|lol|hey|hi|hello|well|so|ok(?:ay)?|hmm+|"
    r"omg|btw|by the way|anyway|honestly|totally|absolutely|definitely|thanks|thank you)"
    r"(?:\s+[A-Z][a-z]+)?[\s,!.:;-]+)+",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"\b(?:really|so|just|pretty|super|totally|actually|definitely|very|quite|kinda|"
    r"sorta|literally|basically|honestly)\s+",
    re.IGNORECASE,
)
# Reactions to what the other person said: praise and agreement, however worded.
_REACTION = re.compile(
    r"\b(?:sounds|looks|seems|that's|that is|what a|how|so proud|proud of you|happy for|"
    r"glad|agree|congrat\w*|amazing|awesome|incredible|wonderful|fantastic|inspiring|"
    r"cool|great|lovely|beautiful|nice)\b",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(
    r"\b(?:I|I'm|I've|I'll|I'd|my|me|mine|myself|we|we're|we've|our|us)\b", re.IGNORECASE
)
_SPECIFIC = re.compile(r"(?<=\w )[A-Z][a-z]+|\d|\[shares ")

# Words that make a statement worth more: health and safety, and what people ask to keep.
_VITAL = re.compile(
    r"\b(allerg\w*|diabet\w*|asthma|epilep\w*|pregnan\w*|vegan|vegetarian|gluten|lactose|"
    r"halal|kosher|medication|surgery|diagnos\w*|disease|disorder|emergency|anaphyla\w*|"
    r"pain|injur\w*|hospital)\b",
    re.IGNORECASE,
)
_REMEMBER = re.compile(r"\b(remember|don't forget|do not forget|keep in mind|note that)\b", re.I)

# First and second person, to third: (pattern, replacement with {me}/{you} names).
_PERSONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), replacement)
    for pattern, replacement in (
        (r"\bI'm\b", "{me} is"),
        (r"\bI don't\b", "{me} doesn't"),
        (r"\bI do not\b", "{me} does not"),
        (r"\bI haven't\b", "{me} hasn't"),
        (r"\bI have not\b", "{me} has not"),
        (r"\bI am\b", "{me} is"),
        (r"\bI've\b", "{me} has"),
        (r"\bI'll\b", "{me} will"),
        (r"\bI'd\b", "{me} would"),
        (r"\bI was\b", "{me} was"),
        (r"\bmyself\b", "{me}"),
        (r"\bmine\b", "{me}'s"),
        (r"\bmy\b", "{me}'s"),
        (r"\bme\b", "{me}"),
        (r"\byou're\b", "{you} is"),
        (r"\byou are\b", "{you} is"),
        (r"\byou've\b", "{you} has"),
        (r"\byou'll\b", "{you} will"),
        (r"\byourself\b", "{you}"),
        (r"\byours\b", "{you}'s"),
        (r"\byour\b", "{you}'s"),
    )
)
# "I" with its verb (after any adverbs): a verb in the present agrees with the third person
# ("I never get tired" -> "the user never gets tired"); the past, modals and the words that
# are the same in both tenses ("I put", "I read") stay as they are.
_I_VERB = re.compile(
    r"\bI((?: (?:never|always|usually|often|sometimes|still|also|only|rarely|finally|even"
    r"|already|barely|hardly|generally|normally|mostly|truly|seriously|absolutely|probably"
    r"|certainly|personally|no longer|genuinely|mainly|occasionally|really|just|actually"
    r"|definitely|honestly|literally|basically|totally|kinda|sorta|typically|regularly"
    r"|constantly|secretly|desperately|badly))*) ([A-Za-z]+)\b(?!')",
    re.IGNORECASE,
)
_I = re.compile(r"\bI\b", re.IGNORECASE)
_SAME = frozenset(
    """
can could will would shall should may might must was were had did went got made said saw
took came gave found told thought knew left felt kept brought bought began ran wrote met
sat stood heard lost paid sent spent built won taught caught fell ate drank drove rode flew
grew threw wore broke chose spoke forgot woke sold held led slept swam sang became read put
set cut hit let quit hurt cost shut bet spread dunno wanna gotta gonna used and or but too
as than then so to in on at for with of the a an
""".split()  # noqa: SIM905 - a word list reads better as text
)
_IRREGULAR = {"have": "has", "do": "does", "go": "goes", "be": "is", "am": "is"}
# "you" stays "you" unless the other speaker is known: it may be the reader.
_YOU = re.compile(r"\byou\b", re.IGNORECASE)

# Relative times worth resolving; dateparser turns each into a date.
_WHEN = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|this morning|this evening|"
    r"(?:last|next|this) (?:week|weekend|month|year|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|summer|winter|spring|fall|autumn)|"
    r"(?:a|one|two|three|four|five|six|\d{1,2}) (?:days?|weeks?|months?|years?) ago|"
    r"in (?:a|one|two|three|four|five|six|\d{1,2}) (?:days?|weeks?|months?|years?))\b",
    re.IGNORECASE,
)
_SEASONS = ("summer", "winter", "spring", "fall", "autumn")


# The first letter of the statement and of any sentence pysbd left joined inside it.
_SENTENCE_START = re.compile(r"^\w|(?<=[.!?] )\w")


@dataclass(frozen=True)
class Observation:
    text: str
    importance: float
    message: Message
    source: str = ""  # the sentence as said, before the rewrite


@cache
def _segmenter() -> Any:
    return pysbd.Segmenter(language="en", clean=False)


def sentences(text: str) -> list[str]:
    """The sentences of `text` (pysbd), whitespace-trimmed, each at most a bounded length."""
    return [s.strip()[:MAX_SENTENCE_CHARS] for s in _segmenter().segment(text) if s.strip()]


# Labels people start a message with that name no speaker: "Update: surgery got moved up".
_LABELS = frozenset(
    """
update correction note question edit ps reminder fyi btw also ok okay so warning spoiler
summary context background answer reply re fwd important news plan todo tldr quick good
bad great big sad small update2 heads day week morning evening tonight today tomorrow
yesterday anyway honestly sorry thanks again remember
""".split()  # noqa: SIM905 - a word list reads better as text
)


def speaker_and_text(message: Message) -> tuple[str | None, str]:
    """The speaker a transcript names at the start ("Caroline: …"), and the rest; a label
    ("Update: …", "Quick question: …") is no speaker."""
    match = _SPEAKER.match(message.content)
    if match is None or match.group(1).split()[0].lower() in _LABELS:
        return None, message.content
    return match.group(1), message.content[match.end() :]


def content_words(sentence: str) -> list[str]:
    return [
        w
        for w in _WORD.findall(sentence.lower())
        if w not in _STOPWORDS and w not in _SMALL_TALK and len(w) > 1
    ]


def trimmed(sentence: str) -> str:
    """The sentence without its opening interjections and its fillers."""
    return _FILLER.sub("", _OPENER.sub("", sentence)).strip()


def informative(sentence: str) -> bool:
    """A statement that says something: not a question, not a greeting, not a reaction to
    what the other person said (praise or agreement without news of the speaker's own),
    with enough words that carry meaning."""
    if sentence.rstrip().endswith("?"):
        return False
    words = content_words(sentence)
    personal = _FIRST_PERSON.search(sentence) is not None
    specific = _SPECIFIC.search(sentence) is not None or _WHEN.search(sentence) is not None
    # A statement that names someone, a number or a time needs fewer words to be kept.
    if len(words) < MIN_CONTENT_WORDS - specific:
        return False
    if _REACTION.search(sentence) and not personal and len(words) < REACTION_CONTENT_WORDS:
        return False
    # A remark about nobody in particular ("Taking care of ourselves is vital") is not a
    # memory: a statement is kept when it is the speaker's own, or names someone, something
    # shown, a number or a date.
    return personal or specific


def third_person(sentence: str, me: str, you: str | None) -> str:
    """The sentence with I/my/me as `me` and, when the other speaker is known, you/your as
    `you` (unknown, "you" stays: it may be anyone, the reader included)."""
    for pattern, replacement in _PERSONS:
        if you is None and "{you}" in replacement:
            continue
        sentence = pattern.sub(replacement.format(me=me, you=you), sentence)
    sentence = _I_VERB.sub(lambda m: f"{me}{m.group(1)} {_agreeing(m.group(2))}", sentence)
    sentence = _I.sub(me, sentence)
    if you is not None:
        sentence = _YOU.sub(you, sentence)
    return sentence


def _agreeing(verb: str) -> str:
    lowered = verb.lower()
    if lowered in _IRREGULAR:
        return _IRREGULAR[lowered]
    if lowered in _SAME or lowered.endswith("ed") or not verb.isalpha():
        return verb
    if lowered.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if len(lowered) > 2 and lowered.endswith("y") and lowered[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def resolved(sentence: str, said_at: datetime) -> str:
    """Relative times get their date added: "yesterday" said on 8 May 2023 becomes
    "yesterday (2023-05-07)"; a week, weekend, month or year keeps its coarser grain."""

    def date_of(match: re.Match[str]) -> str:
        phrase = match.group(0)
        when = _parse(phrase.lower(), said_at.replace(tzinfo=None))
        if when is None:
            return phrase
        lowered = phrase.lower()
        if lowered.endswith(("month", "months ago")) or "months" in lowered:
            return f"{phrase} ({when:%B %Y})"
        if (
            lowered.endswith(("year", "years ago"))
            or "years" in lowered
            or lowered.endswith(_SEASONS)
        ):
            return f"{phrase} ({when:%Y})"
        if "week" in lowered:
            return f"{phrase} (week of {when:%Y-%m-%d})"
        return f"{phrase} ({when:%Y-%m-%d})"

    return _WHEN.sub(date_of, sentence)


@cache
def _parse(phrase: str, base: datetime) -> datetime | None:
    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "current_period"}
    if phrase.endswith("weekend"):  # dateparser knows weeks, not weekends
        phrase = phrase.replace("weekend", "week")
    parsed: datetime | None = dateparser.parse(phrase, languages=["en"], settings=settings)
    return parsed


def importance(sentence: str, role: Role) -> float:
    """From signals: a disclosure by the user, names, numbers and dates, health and
    safety words, an explicit "remember"."""
    score = 0.4
    if role is Role.USER and re.search(r"\b(I|my|me|I'm|I've)\b", sentence):
        score += 0.1
    if re.search(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]+", sentence):
        score += 0.1
    if re.search(r"\d", sentence):
        score += 0.1
    if _VITAL.search(sentence):
        score += 0.3
    if _REMEMBER.search(sentence):
        score += 0.3
    return min(score, 1.0)


def observe(messages: Sequence[Message]) -> list[Observation]:
    """The observations of a stretch of transcript, in order."""
    return list(_observe(messages))


def _observe(messages: Sequence[Message]) -> Iterator[Observation]:
    names: dict[Role, str] = {}
    for message in messages:
        named, text = speaker_and_text(message)
        if named is not None:
            names[message.role] = named
        me = names.get(message.role) or _default_name(message.role)
        you = _other(names, message.role)
        for sentence in map(trimmed, sentences(text)):
            if not informative(sentence):
                continue
            statement = resolved(third_person(sentence, me, you), message.created_at)
            statement = _SENTENCE_START.sub(lambda m: m.group(0).upper(), statement)
            if not statement.endswith((".", "!", "?")):
                statement += "."
            yield Observation(statement, importance(sentence, message.role), message, sentence)


def _default_name(role: Role) -> str:
    return "the user" if role is Role.USER else f"the {role.value}"


def _other(names: dict[Role, str], role: Role) -> str | None:
    if role is Role.USER:
        return names.get(Role.ASSISTANT)
    if role is Role.ASSISTANT:
        return names.get(Role.USER)
    return None
