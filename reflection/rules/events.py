"""Event rules: what happened to the user, dated when they say when — injuries ("I broke my
wrist in May"), things done at a past time ("last weekend I ran a marathon", "did my first
parkrun this morning"), life events ("we got engaged", "I graduated"), and what they are in
the middle of ("I'm training for the Berlin marathon", "I'm studying web design")."""

import re

from memory.core.domain import FactKind
from reflection.rules.base import Rule, RuleFact, Said, clean, fact, said_on
from reflection.rules.dates import FUTURE, PAST, event_note, without

DATE_REACH = 80  # characters either side of an event where its date may be said

_BODY = (
    r"wrist|arm|leg|ankle|foot|knee|hip|shoulder|elbow|hand|finger|thumb|toe|back|neck|ribs?"
    r"|nose|collarbone|hamstring|achilles|acl|calf|tooth|jaw|spine|pelvis|heel|shin"
)
_INJURY = re.compile(
    r"\bi(?:'ve| have)? (?:just |recently )?(?P<verb>broke|broken|sprained|fractured|tore|torn"
    r"|twisted|dislocated|injured|hurt|pulled|strained|cracked|bruised)"
    r" (?P<x>(?:my|a) (?:(?:left|right|lower|upper) )?(?:" + _BODY + r"))\b",
    re.IGNORECASE,
)
_PAST_OF = {"broken": "broke", "torn": "tore"}


def _near(match: re.Match[str], said: Said) -> str:
    return said.sentence[max(0, match.start() - DATE_REACH) : match.end() + DATE_REACH]


def _injury(match: re.Match[str], said: Said) -> list[RuleFact]:
    verb = match.group("verb").lower()
    text = f"{_PAST_OF.get(verb, verb).capitalize()} {clean(match.group('x'))}"
    note = event_note(_near(match, said), said.message.created_at)
    return fact(FactKind.EVENT, text + note, None, 0.7, 0.8, said.message)


# Past forms that say what someone did, not what they thought or felt about it.
_DID_VERBS = (
    r"had|did|went|got|came|took|made|saw|ran|flew|left|gave|met|won|lost|broke|bought|sold"
    r"|paid|spent|found|fell|began|wrote|drove|rode|caught|built|tore|became|held|wore|beat"
    r"|quit|swam|sang|[a-z]{1,20}[^e\W]ed"
)
_NOT_DONE = frozenset(
    """
decided wondered thought wanted needed liked loved hated enjoyed preferred meant used asked
said told felt forgot remembered realised realized hoped planned tried guessed mentioned
noticed assumed expected supposed figured considered agreed seemed looked sounded talked
""".split()  # noqa: SIM905 - a word list reads better as text
)
_DID = re.compile(
    r"(?:^|\b(?:i|we) )(?:(?:finally|just|also|actually|only|recently|even) )?"
    r"(?P<x>(?P<verb>" + _DID_VERBS + r")\b[^.;!?]{2,100})",
    re.IGNORECASE,
)
# A comma that starts a new clause ends what was done: "saw a physio yesterday, she thinks".
_NEXT_CLAUSE = re.compile(
    r",\s*(?:i|it|it's|we|they|he|she|you|that|this|which|so|and|but)\b.*$", re.IGNORECASE
)


def _did(match: re.Match[str], said: Said) -> list[RuleFact]:
    """Something done at a past time the user says: without the time, nothing is known of
    it but that it happened, which is not worth a fact."""
    near = _near(match, said)
    if match.group("verb").lower() in _NOT_DONE or PAST.search(near) is None:
        return []
    done = without(PAST, clean(_NEXT_CLAUSE.sub("", match.group("x"))))
    if len(done.split()) < 2:
        return []
    text = done[0].upper() + done[1:] + event_note(near, said.message.created_at)
    return fact(FactKind.EVENT, text, None, 0.6, 0.7, said.message)


_LIFE = re.compile(
    r"\b(?:i|we)(?:'ve| have)? (?:just |finally |recently |officially )?(?P<x>got (?:married"
    r"|engaged|divorced|promoted|fired|laid off|made redundant|my (?:driving )?licen[cs]e)"
    r"|graduated|retired|had (?:a|our|my) (?:first |second |third )?(?:baby|son|daughter)"
    r"|lost my job|passed my (?:[a-z]{2,20} )?(?:test|exam|exams)|quit my job"
    r"|bought (?:a|our first|my first|our|my) (?:house|flat|home|apartment))\b",
    re.IGNORECASE,
)


def _life(match: re.Match[str], said: Said) -> list[RuleFact]:
    done = clean(match.group("x"))
    text = done[0].upper() + done[1:] + event_note(_near(match, said), said.message.created_at)
    return fact(FactKind.EVENT, text, None, 0.7, 0.8, said.message)


_DOING_NOW = re.compile(
    r"\b(?:i|we)(?:'m| am|'re| are) (?:currently |now |still |also )?"
    r"(?P<x>(?:training|preparing|studying|revising|learning|saving up|saving) [^.;!?]{2,80})",
    re.IGNORECASE,
)


def _doing_now(match: re.Match[str], said: Said) -> list[RuleFact]:
    """What the user is in the middle of; with a future date it is a plan instead."""
    if FUTURE.search(_near(match, said)):
        return []
    doing = clean(match.group("x"))
    if len(doing.split()) < 2:
        return []
    text = f"Is {doing} (as of {said_on(said.message)})"
    return fact(FactKind.EVENT, text, None, 0.6, 0.7, said.message)


RULES = (
    Rule(_INJURY, _injury),
    Rule(_DID, _did),
    Rule(_LIFE, _life),
    Rule(_DOING_NOW, _doing_now),
)
