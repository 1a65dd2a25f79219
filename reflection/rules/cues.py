"""The kind of a statement no pattern claimed, from cues of time and habit rather than from
its wording: a statement of the user's anchored in the time ahead is a plan ("The wedding is
March 22nd", "dentist Thursday, Kai's party Saturday"), one that tells what happened to
them at a time gone by is an event ("someone rear-ended me in Galway yesterday"), and one
that says how often they do something is a habit, kept as a preference ("I bake every
weekend"). What the patterns cannot enumerate, the tense and the calendar still say.

The cues read the sentence as the user wrote it, before it is put in the third person."""

import re
from dataclasses import dataclass
from datetime import datetime

from memory.core.domain import FactKind
from reflection.rules.dates import FUTURE, PAST, plan_date

# Verbs in the past: the regular "-ed" (not the adjectives people use for how they feel)
# and the common irregular ones.
_IRREGULAR_PAST = (
    "was|were|went|got|had|did|made|said|saw|took|came|gave|found|told|thought|knew|left"
    "|felt|kept|brought|bought|began|ran|wrote|met|sat|stood|heard|lost|paid|sent|spent"
    "|built|won|taught|caught|fell|ate|drank|drove|rode|flew|grew|threw|wore|broke|chose"
    "|spoke|forgot|woke|sold|held|led|slept|swam|sang|became|shot|stole|tore|hid|bit|dug"
    "|proposed|passed"
)
_NOT_PAST = (
    "tired|excited|interested|worried|scared|stressed|bored|pleased|delighted|obsessed"
    "|married|engaged|based|supposed|used|need|feed|seed|speed|bed|red|shed|bled|exhausted"
    "|booked|scheduled|planned|sorted|organised|organized|confirmed|fixed|set"
)
_PAST_VERB = re.compile(
    r"\b(?:" + _IRREGULAR_PAST + r"|(?!(?:" + _NOT_PAST + r")\b)[a-z]{2,}ed)\b", re.IGNORECASE
)
# What points ahead whatever the date: the future, an arrangement, something under way.
_AHEAD = re.compile(
    r"\b(?:will|'ll|shall|going to|gonna|plan(?:ning)? to|due|booked|scheduled|coming up"
    r"|on for|starts?|starting|kicks? off|moved up|moved to|pushed back|pushed to|postponed"
    r"|rescheduled|brought forward)\b"
    r"|\b(?:am|'m|is|'s|are|'re) (?!been\b)[a-z]{2,}ing\b",
    re.IGNORECASE,
)
_HABIT = re.compile(
    r"\b(?:every|each) (?:single )?(?:day|morning|evening|night|week|weekend|month|summer"
    r"|winter|year|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
    r"|\b(?:once|twice|three times|four times|five times|\d times|a few times|a couple of times)"
    r" a (?:day|week|month|year)\b"
    r"|\bon (?:weekends|mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays)\b"
    r"|\b(?:daily|weekly|most days|most mornings|most weekends|religiously|without fail)\b",
    re.IGNORECASE,
)
# The user's own, in the first person: a cue about someone else's week is not the user's.
_OWN = re.compile(r"\b(?:i|i'm|i've|i'd|im|ive|my|me|we|we're|we've|our|us)\b", re.IGNORECASE)
_DOUBT = re.compile(
    r"\b(?:if|unless|whether|maybe|might|should i|could i|would it|wonder)\b"
    r"|^(?:can|could|would|will) (?:you|u)\b",  # a request, a question without its mark
    re.IGNORECASE,
)
# A dose is a prescription, not a habit: "ferrous sulfate once a day".
_DOSE = re.compile(
    r"\b(?:\d+ ?(?:mg|mcg|ml|iu)|tablets?|pills?|meds|medication|dose|inhaler|injections?"
    r"|prescribed)\b",
    re.IGNORECASE,
)
# A liking said as a standing rule of the user's ("I'd rather keep my thursday evenings
# free", "I avoid budget airlines"), whatever day it names.
_LIKING = re.compile(
    r"\b(?:i'd rather|i would rather|i prefer|i always|i never|i avoid|i can't stand"
    r"|i cannot stand|my go-to|my comfort|my favou?rite)\b",
    re.IGNORECASE,
)
# The day itself is no plan: "grim out there today" says nothing ahead without a verb that does.
_TODAY = re.compile(r"^(?:today|tonight|this (?:morning|afternoon|evening))$", re.IGNORECASE)


@dataclass(frozen=True)
class Cue:
    kind: FactKind
    occurs_at: datetime | None = None  # when a plan takes place, if its date resolves


def cue(sentence: str, said_at: datetime) -> Cue | None:
    """The kind the time and habit cues give `sentence` (a user's, as written), or None."""
    if sentence.rstrip().endswith("?") or _DOUBT.search(sentence):
        return None
    own = _OWN.search(sentence) is not None
    if _LIKING.search(sentence) or (own and _HABIT.search(sentence) and not _DOSE.search(sentence)):
        return Cue(FactKind.PREFERENCE)
    ahead, past = FUTURE.search(sentence), PAST.search(sentence)
    past_verb = _PAST_VERB.search(sentence) is not None
    arranged = _AHEAD.search(sentence) is not None
    if ahead and (arranged or not (past_verb or _TODAY.match(ahead.group("when")))):
        return Cue(FactKind.PLAN, plan_date(sentence, said_at))
    if past and past_verb and own:
        return Cue(FactKind.EVENT)
    return None
