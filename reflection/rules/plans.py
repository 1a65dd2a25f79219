"""Plan rules: what the user means to do, with its date resolved when they say one — an
intention ("I'm going to…", "I need to…", "I'll…"), something already arranged and dated
("we're moving to Kingston on the 1st of May", "next Friday I fly to Lisbon", "my driving
test is on the 14th", "a camping trip this Friday"). Reported speech ("she thinks I'll…"),
habits ("every Sunday") and "I'll think about it" are not plans."""

import re

from memory.core.domain import FactKind
from reflection.rules.base import Rule, RuleFact, Said, clean, third_person
from reflection.rules.dates import FUTURE, FUTURE_PHRASE, plan_date, plan_note, without

DATE_REACH = 80  # characters either side of a plan where its date may be said

_ADVERB = r"(?:(?:also|still|really|definitely|finally|actually|now|just|officially) )?"
_INTENT = re.compile(
    r"\b(?:i|we)(?:'m| am|'re| are) " + _ADVERB + r"(?:planning|going|hoping|about|scheduled"
    r"|due|supposed|aiming|intending) to (?!go with\b)(?P<x>[^.;!?]{3,100})"
    r"|\b(?:i|we) " + _ADVERB + r"(?:plan|intend|need|have|want|promised|hope|aim) to"
    r" (?P<y>[^.;!?]{3,100})"
    r"|\b(?:i|we)(?:'ll| will) (?!go with\b)(?P<z>[^.;!?]{3,100})"
    r"|\b(?:i|we)(?:'m| am|'re| are) gonna (?!go with\b)(?P<u>[^.;!?]{3,100})"
    r"|\b(?:i|we)(?:'ve| have) been (?:asked|told|invited|chosen|picked|selected|booked) to"
    r" (?P<w>[^.;!?]{3,100})"
    # The subject left out, as people type: "also want to take 2 weeks off".
    r"|(?:^|[,;] |\band )" + _ADVERB + r"(?:want|need|plan|planning|hoping|intend|intending)"
    r" to (?P<v>[^.;!?]{3,100})",
    re.IGNORECASE,
)
_REPORTED = re.compile(
    r"\b(?:thinks?|says?|said|reckons?|believes?|told me|tells me|expects?)(?: that)?\s*$",
    re.IGNORECASE,
)
_NOT_PLANS = re.compile(
    r"^(?:have to |need to |)(?:think|sleep on|mull|wait and see|see|let you know|get back"
    r"|keep (?:that|it|this) in mind|remember|be honest|admit|say|ask|try|know|understand"
    r"|thank|never|not|turn down|decline|pass on)\b"
    r"|^\S+(?: \S+)? (?:it|that|this|them|one)$",  # "do that", "take it": nothing to keep
    re.IGNORECASE,
)
_PLACE_NEXT = re.compile(r"^(?:the|a|an|my|our|their|his|her|this|that)\b|^[A-Z]")


def _intent(match: re.Match[str], said: Said) -> list[RuleFact]:
    captured = next(v for v in (match.group(k) for k in "xyzuwv") if v)
    reported = _REPORTED.search(said.sentence[max(0, match.start() - 30) : match.start()])
    if reported or _NOT_PLANS.match(captured):
        return []
    going = match.group("x") is not None and "going" in match.group(0).lower()[:30]
    own = _own(captured)
    intent = without(FUTURE, own)
    if going and _PLACE_NEXT.match(captured):  # "we're going to Japan": to go there
        intent = f"go to {intent}"
    return _plan(f"Plans to {intent}", own, match, said)


# A comma that starts a new clause ends the plan: "renew my passport, it expires in April".
_NEXT_CLAUSE = re.compile(
    r",\s*(?:i|it|it's|we|they|he|she|you|that|this|which|so|and|but|kind of|tbh|lol)\b.*$",
    re.IGNORECASE,
)


def _own(captured: str) -> str:
    """The words of the plan itself: up to the next clause, in the third person."""
    own = clean(_NEXT_CLAUSE.sub("", captured))
    # "… next quarter, kind of terrified": what follows a date and a comma is comment.
    dated = FUTURE.search(own)
    if dated is not None and own[dated.end() :].startswith(","):
        own = own[: dated.end()]
    return own


_CHOICE = re.compile(r"\b(?:instead of|rather than)\b", re.IGNORECASE)


def _plan(text: str, own: str, match: re.Match[str], said: Said) -> list[RuleFact]:
    """A plan dated by a time said in its own words, else just before them ("next Friday I
    fly…"); never by one further on, which belongs to another clause."""
    if len(text.split()) < 4:  # "Plans to go" says nothing
        return []
    if _CHOICE.search(own):  # one thing over another: the decision it is says it
        return []
    before = said.sentence[max(0, match.start() - DATE_REACH) : match.start()]
    when = own if FUTURE.search(own) else before
    note = plan_note(when, said.message.created_at)
    occurs_at = plan_date(when, said.message.created_at)
    return [RuleFact(FactKind.PLAN, text + note, None, 0.6, 0.6, said.message, occurs_at)]


def _near(match: re.Match[str], said: Said) -> str:
    """Where a plan's date may be said: near it, not in the whole of a sentence of any
    length."""
    return said.sentence[max(0, match.start() - DATE_REACH) : match.end() + DATE_REACH]


_HABIT = re.compile(
    r"\b(?:every|each|usually|always|often|sometimes|normally|most (?:days|weeks|weekends))\b",
    re.IGNORECASE,
)
_NOT_DOING = (
    r"going to|planning|hoping|about|trying|feeling|thinking|wondering|looking|worried|worrying"
    r"|struggling|getting|being|doing|loving|enjoying|kidding|joking|living|working|sorry|willing"
    r"|missing|wearing|sitting|waiting|expecting|guessing|assuming|hearing|seeing if|turning"
    r"|declining"
)
_DOING = re.compile(
    r"\b(?:i|we)(?:'m| am|'re| are) " + _ADVERB + r"(?!(?:" + _NOT_DOING + r")\b)"
    r"(?P<verb>[a-z]{2,20}ing)\b(?P<rest>[^.;!?]{0,100})",
    re.IGNORECASE,
)
# "handing my notice in on friday", "collecting it from the dealer on the 20th": a clause
# that starts with its verb, a plan when a future date is said near it.
_DOING_UNSAID = re.compile(
    r"(?:^|[,;] |\b(?:and|then|so|also) )(?!(?:" + _NOT_DOING + r")\b)"
    r"(?P<verb>[a-z]{2,20}ing)\b(?P<rest>[^.;!?]{2,100})",
    re.IGNORECASE,
)
_NOT_VERBS = frozenset({"anything", "something", "nothing", "everything", "morning", "evening"})
_DOES = re.compile(
    r"\b(?:i|we) " + _ADVERB + r"(?P<verb>fly|leave|start|go|travel|move|head|begin|return"
    r"|arrive|drive|sail|depart|have(?! to\b)|finish|graduate|retire|turn|set off|check in)\b"
    r"(?P<rest>[^.;!?]{2,100})",
    re.IGNORECASE,
)


_NEW_JOB = re.compile(r"(?:a|my) new (?:job|role|position)\b", re.IGNORECASE)


def _dated(match: re.Match[str], said: Said) -> list[RuleFact]:
    """Something arranged ("I'm cooking dinner next Saturday", "next Friday I fly to
    Lisbon"): a plan only when a future date is said near it, and it is not a habit."""
    near = _near(match, said)
    if FUTURE.search(near) is None or _HABIT.search(near):
        return []
    verb = match.group("verb").lower()
    if verb in _NOT_VERBS:
        return []
    base = base_form(verb) if verb.endswith("ing") else verb
    own = _own(match.group("rest"))
    rest = without(FUTURE, own)
    if _NEW_JOB.match(rest):  # a job one starts is the occupation fact's to say
        return []
    if verb == "have" and not _HAVE_OCCASION.match(rest):  # "I have a dentist appointment"
        return []
    return _plan(f"Plans to {base} {rest}".strip(), own, match, said)


_COMING_UP = re.compile(
    r"\b(?P<x>(?i:my|our) [^,.;!?]{2,60}?) (?i:is|are|'s) (?=(?i:" + FUTURE_PHRASE + r")\b)"
)


def _coming_up(match: re.Match[str], said: Said) -> list[RuleFact]:
    """An occasion of the user's with its date: "my driving test is on the 14th"."""
    what = third_person(match.group("x"))
    when = match.string[match.end() : match.end() + DATE_REACH]
    return _plan(f"Has {what} coming up", when, match, said)


_OCCASIONS = (
    r"trip|holiday|holidays|vacation|getaway|break|wedding|party|appointment|interview|exam"
    r"|test|match|race|marathon|concert|gig|flight|visit|dinner|lunch|meeting|talk"
    r"|presentation|conference|surgery|operation|birthday|anniversary|ceremony|graduation"
    r"|reunion|deadline|check-up|checkup|scan|audition|competition|tournament|festival"
    r"|weekend away|hike"
)
_HAVE_OCCASION = re.compile(
    r"(?:a|an|my|our|the) (?:[\w'-]{1,20} ){0,3}?(?:" + _OCCASIONS + r")\b", re.IGNORECASE
)
_OCCASION = re.compile(
    r"\b(?P<det>(?i:a|an|our|my)) (?P<x>(?:[\w'-]{1,20} ){0,3}?(?i:" + _OCCASIONS + r")"
    r"(?: (?i:to|in|at|with|for) [^,.;!?]{1,40}?)?) (?=(?i:" + FUTURE_PHRASE + r")\b)"
)
_DID_BEFORE = re.compile(
    r"\b(?:i|we) (?:just |already |finally )?(?:was|were|had|did|went|got|came|took|made|saw"
    r"|ran|flew|left|missed|won|lost|[a-z]{1,20}[^e\W]ed)\b",
    re.IGNORECASE,
)


def _occasion(match: re.Match[str], said: Said) -> list[RuleFact]:
    """An occasion followed by a future date: "a hiking trip in the Lake District next
    month"."""
    if _DID_BEFORE.search(said.sentence[max(0, match.start() - DATE_REACH) : match.start()]):
        return []
    what = clean(match.group("x"))
    when = match.string[match.end() : match.end() + DATE_REACH]
    if match.group("det").lower() in {"a", "an"}:
        return _plan(f"Plans {match.group('det').lower()} {what}", when, match, said)
    return _plan(f"Has their {what} coming up", when, match, said)


# -ing forms whose base form the spelling rules below get wrong.
_IRREGULAR = {"being": "be", "seeing": "see", "lying": "lie", "dying": "die", "tying": "tie"}
_KEEP_DOUBLE = ("ll", "ss", "ff", "zz")
_AFTER_CONSONANT = ("at", "ut", "ur", "ir", "id", "ud")
_VOWELS = frozenset("aeiou")


def base_form(verb: str) -> str:
    """The base form of an -ing form: cooking, moving, running, visiting: cook, move, run,
    visit."""
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    stem = verb[:-3]
    if len(stem) >= 3 and stem[-1] == stem[-2] and stem[-2:] not in _KEEP_DOUBLE:
        return stem[:-1]  # running, planning, getting
    if stem.endswith(("v", "c", "z", "is", "os", "ag")):
        return stem + "e"  # moving, dancing, organising, closing, managing
    if stem.endswith(_AFTER_CONSONANT) and stem[-3:-2] not in _VOWELS:
        return stem + "e"  # celebrating, deciding, ensuring (not eating, touring, avoiding)
    if len(stem) > 4 and stem.endswith(("ang", "eng")):
        return stem + "e"  # changing, arranging, challenging
    if re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", stem):
        return stem + "e"  # taking, making, hiking: one syllable, not doubled
    return stem


RULES = (
    Rule(_INTENT, _intent),
    Rule(_COMING_UP, _coming_up),
    Rule(_DOING, _dated),
    Rule(_DOING_UNSAID, _dated),
    Rule(_DOES, _dated),
    Rule(_OCCASION, _occasion),
)
