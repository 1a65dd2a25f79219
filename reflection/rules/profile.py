"""Profile rules: who the user is — name, age, home, origin and nationality, handedness
(their work is `work`'s). Each fact carries the attribute a later value of the same thing
supersedes ("residence")."""

import re

from memory.core.domain import FactKind
from reflection.rules.base import (
    NOT_NAMES,
    PLACE,
    SUBJECT_ADVERBS,
    Rule,
    RuleFact,
    Said,
    article,
    clean,
    fact,
    first,
    said_on,
)
from reflection.rules.work import DEMONYM_WORDS, DEMONYMS

_HOMES = r"house|flat|home|apartment|garden|terrace|cottage|bungalow|townhouse|condo"
_RESIDENCE = re.compile(
    r"\b(?i:(?:i|we) " + SUBJECT_ADVERBS + r"(?:live|am living|'m living|are living"
    r"|'re living|reside) in) (?P<x>(?:the )?" + PLACE + ")"
    r"|\b(?i:(?:i|we)(?:'ve| have) (?:lived|been living) in) (?P<y>(?:the )?" + PLACE + r")"
    r"(?= (?i:for|since)\b)"
    r"|\b(?i:(?:out|over|down|up|back) here in|here in|at home in|(?:i|we)(?:'m|'re| am| are) in)"
    r" (?P<u>" + PLACE + ")"
    r"|\b(?i:(?:i|we)(?:'m| am|'re| are) (?:currently |now )?based (?:in|out of)) (?P<z>(?:the )?"
    + PLACE
    + ")"
    r"|\b(?i:my|our) (?P<what>(?:[a-z-]{1,20} )?(?i:" + _HOMES + r"))"
    r" (?i:is )?(?i:in) (?P<w>" + PLACE + ")"
    r"|\b(?i:i(?:'ve got| have| own)|we(?:'ve got| have| own)) (?i:an?)"
    r" (?P<what2>(?:[a-z-]{1,20} ){0,2}(?i:" + _HOMES + r"))"
    r" (?i:in) (?P<v>" + PLACE + ")"
)
# A home of someone else, or not the one lived in.
_NOT_HOME = frozenset(
    {"holiday", "summer", "second", "old", "former", "childhood", "family", "dream", "future"}
)


_AWAY = re.compile(
    r"\b(?:holiday|vacation|trip|visiting|weekend|conference|honeymoon|travel\w*)\b",
    re.IGNORECASE,
)


def _residence(match: re.Match[str], said: Said) -> list[RuleFact]:
    place = clean(first(match, "x", "y", "z", "w", "v", "u"))
    what = first(match, "what", "what2").lower().split()
    if place in NOT_NAMES or _NOT_HOME & set(what):
        return []
    if match.group("u") and _AWAY.search(said.sentence):  # "here in Rome for the weekend"
        return []
    return fact(FactKind.PROFILE, f"Lives in {place}", "residence", 0.7, 0.8, said.message)


# The same, typed in lower case ("my flat in bristol", "now staying in petaling jaya"): a
# place of one or two words after a cue that says home, never a word a home can be in
# without being a place ("i live in fear", "living in a van").
_LOWER_PLACE = (
    r"[a-z][a-z'-]{2,30}(?: (?!(?:and|but|so|cos|coz|with|for|now|since|which|where|near|because"
    r"|too|btw|lol|though|tho|these|this|at|on|in|by|my|our|the|a|an|is|was|are|its|it|has"
    r"|had|have|got|gets|keeps|not|never|just|that|who|isnt|wasnt|does|did|will|can|cant)\b)"
    r"[a-z][a-z'-]{2,30})?"
)
_RESIDENCE_LOWER = re.compile(
    r"\b(?:(?:i|we)(?: " + SUBJECT_ADVERBS.lower() + r"(?:live|reside)"
    r"| (?:am|are) (?:living|staying)|'(?:m|re) (?:living|staying)) in"
    r"|(?:i|we)(?:'m| am|'re| are) (?:currently |now )?based (?:in|out of)"
    r"|(?:now |currently )(?:living|staying) in"
    r"|(?:my|our) (?:[a-z-]{1,20} )?(?:" + _HOMES + r") (?:is )?in) (?P<x>" + _LOWER_PLACE + r")\b"
)
_NOT_PLACES = frozenset(
    """
a an the my our this that his her their fear hope denial peace sin luxury poverty squalor
town city country countryside suburbs halls dorms student shared van car tent caravan
sin sync harmony chaos limbo hell heaven bed pain debt london-ish same one two
""".split()  # noqa: SIM905 - a word list reads better as text
)


def _residence_lower(match: re.Match[str], said: Said) -> list[RuleFact]:
    place = match.group("x")
    if place.split()[0] in _NOT_PLACES:
        return []
    name = " ".join(w.capitalize() for w in place.split())
    return fact(FactKind.PROFILE, f"Lives in {name}", "residence", 0.6, 0.7, said.message)


_MOVED = re.compile(
    r"\b(?i:(?:i|we)(?:'ve| have)? (?:just |recently |finally |now )?(?:moved|relocated"
    r"|retired(?: out)?)"
    r"(?: from (?:the )?(?:" + PLACE + "|" + _LOWER_PLACE + r"))? (?:back )?to)"
    r" (?P<x>(?:the )?" + PLACE + "|" + _LOWER_PLACE + ")"
)


def _moved(match: re.Match[str], said: Said) -> list[RuleFact]:
    place = clean(match.group("x"))
    if place in NOT_NAMES or place.removeprefix("the ").split()[0].lower() in _NOT_PLACES:
        return []
    if place.islower():
        place = " ".join(w.capitalize() for w in place.split())
    moved = f"Moved to {place} (by {said_on(said.message)})"
    return [
        *fact(FactKind.PROFILE, f"Lives in {place}", "residence", 0.7, 0.8, said.message),
        *fact(FactKind.EVENT, moved, None, 0.6, 0.8, said.message),
    ]


_ORIGIN = re.compile(
    r"\b(?i:i(?:'m| am) (?:originally )?from|i grew up in|i was raised in) (?P<x>(?:the )?"
    + PLACE
    + ")"
    r"|\b(?i:i was born (?:and raised )?in) (?P<y>(?:the )?" + PLACE + ")"
)


def _origin(match: re.Match[str], said: Said) -> list[RuleFact]:
    place = clean(first(match))
    if place in NOT_NAMES:
        return []
    if match.group("y"):
        return fact(FactKind.PROFILE, f"Was born in {place}", "birthplace", 0.6, 0.8, said.message)
    return fact(FactKind.PROFILE, f"Is from {place}", "origin", 0.6, 0.8, said.message)


# "sri lankan", "south african": a nationality may be two words.
_NATIONALITY_SAID = re.compile(
    r"\bi(?:'m| am) (?:an? )?(?:half |proud |born )?(?P<x>[a-z]{3,20}(?: [a-z]{3,20})?)"
    r"(?P<c> (?:citizen|national))?"
    r"(?=[,.;!?]|$| (?:and|but|so|too|though|by|myself|born|living|here|who)\b)"
    r"|\bas an? (?P<y>[a-z]{3,20}(?: [a-z]{3,20})?)(?P<c2> (?:citizen|national|passport holder))\b"
    r"|\bi (?:have|hold) (?:an? )?(?P<z>[a-z]{3,20}(?: [a-z]{3,20})?) (?:passport|citizenship)\b",
    re.IGNORECASE,
)


def _nationality(match: re.Match[str], said: Said) -> list[RuleFact]:
    demonym = first(match, "x", "y", "z").lower()
    if demonym not in DEMONYMS:
        return []
    name = demonym.title()
    text = f"Is {article(name)} citizen" if first(match, "c", "c2") else f"Is {name}"
    return fact(FactKind.PROFILE, text, "nationality", 0.6, 0.8, said.message)


_NAME_SAID = re.compile(
    r"\b(?i:my name is|my name's|call me) (?P<x>[A-Z][a-z]+(?: [A-Z][a-z]+)?)"
    # "Hi! I'm Marta." / "I'm Marta, I work…": a capitalised word alone after "I'm"/"I am"
    # at the start of a sentence, then the sentence ends or a new clause begins.
    r"|^(?:(?i:hi|hello|hey)[!,.]?\s+)?I(?:'m| am) (?P<y>[A-Z][a-z]{1,20})(?=\s*(?:[.!,;]|$))"
)


# Words that follow "I'm" capitalised without being a name ("I'm Sorry.", "I'm English.").
_NOT_A_NAME_AFTER_IM = DEMONYM_WORDS | frozenset(
    """
sorry fine good great okay ok back ready done here there sure glad happy sad tired busy new
home late early free single married divorced retired vegan vegetarian well sick better in out
""".split()  # noqa: SIM905
)


def _name(match: re.Match[str], said: Said) -> list[RuleFact]:
    name = first(match, "x", "y")
    if match.group("y") and name.lower() in _NOT_A_NAME_AFTER_IM:
        return []
    if name.split()[0] in NOT_NAMES:
        return []
    return fact(FactKind.PROFILE, f"Is named {name}", "name", 0.8, 0.9, said.message)


_AGE = re.compile(
    r"\bi(?:'m| am) (?P<x>\d{1,3}) years old\b"
    r"|\bi(?:'ve)? just turned (?P<y>\d{1,3})\b(?!\.\d|%|:)"
    r"|\bi(?:'m| am) (?P<z>[1-9]\d)(?=[,.;!?]|$| (?:and|but|now|this year|myself)\b)",
    re.IGNORECASE,
)


def _age(match: re.Match[str], said: Said) -> list[RuleFact]:
    text = f"Is {first(match)} years old (as of {said_on(said.message)})"
    return fact(FactKind.PROFILE, text, "age", 0.5, 0.9, said.message)


_HANDED = re.compile(r"\bi(?:'m| am) (?P<x>left|right)[- ]handed\b", re.IGNORECASE)


def _handed(match: re.Match[str], said: Said) -> list[RuleFact]:
    text = f"Is {match.group('x').lower()}-handed"
    return fact(FactKind.PROFILE, text, "handedness", 0.4, 0.9, said.message)


RULES = (
    Rule(_RESIDENCE, _residence),
    Rule(_RESIDENCE_LOWER, _residence_lower),
    Rule(_MOVED, _moved),
    Rule(_ORIGIN, _origin),
    Rule(_NATIONALITY_SAID, _nationality),
    Rule(_NAME_SAID, _name),
    Rule(_AGE, _age),
    Rule(_HANDED, _handed),
)
