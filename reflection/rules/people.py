"""Relation rules: the people and pets in the user's life, by name ("my wife Priya", "we have a
toddler, Leo", "our cat Miso is 11", "a beagle called Pepper", "Mia is 7" once the user has
mentioned their kids) and where relatives live ("my parents live in Leeds"). Each named one
is remembered for the rest of the extraction, so "her fiancé Marco" can say whose."""

import re

from memory.core.domain import FactKind
from reflection.rules.base import (
    NAME,
    NOT_NAMES,
    PLACE,
    Person,
    Rule,
    RuleFact,
    Said,
    article,
    fact,
    said_before,
    said_on,
)


def _words(listed: str) -> list[str]:
    return [w.strip() for w in listed.split(",")]


_FEMALE = _words(
    "wife, girlfriend, fiancee, fiancée, mum, mom, mam, mammy, mother, mummy, stepmum, stepmom,"
    " sister, stepsister, half-sister, daughter, stepdaughter, grandma, grandmother, granny, nan,"
    " aunt, niece, granddaughter, mother-in-law, sister-in-law, daughter-in-law, landlady"
)
_MALE = _words(
    "husband, boyfriend, fiance, fiancé, dad, father, daddy, papa, stepdad, stepfather,"
    " brother, stepbrother, half-brother, son, stepson, grandpa, grandfather, grandad, uncle,"
    " nephew, grandson, father-in-law, brother-in-law, son-in-law, landlord"
)
_OTHERS = _words(
    "partner, spouse, child, kid, baby, toddler, teenager, twin, cousin, friend, best friend,"
    " bestie, flatmate, housemate, roommate, neighbor, neighbour, boss, manager, colleague,"
    " coworker, co-worker, mentor, therapist, coach, tutor, teammate, classmate, mate,"
    " best mate, pal, buddy, bff, supervisor, carer, caregiver, godmother, godfather,"
    " goddaughter, godson, ex, ex-husband, ex-wife, ex-partner"
)
ANIMALS = _words(
    "dog, cat, puppy, kitten, rabbit, bunny, hamster, guinea pig, parrot, budgie, tortoise,"
    " turtle, snake, lizard, gecko, goldfish, horse, pony, beagle, labrador, golden retriever,"
    " retriever, spaniel, cocker spaniel, terrier, poodle, collie, border collie, greyhound,"
    " whippet, dachshund, pug, husky, corgi, bulldog, french bulldog, german shepherd,"
    " cockapoo, labradoodle, jack russell, tabby"
)
_RELATIONS = [*_FEMALE, *_MALE, *_OTHERS]


def _alternation(words: list[str]) -> str:
    # Longest first, so "best friend" is not read as "friend" and "son-in-law" not as "son".
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


_REL = _alternation(_RELATIONS + ANIMALS)
_ANIMAL = _alternation(ANIMALS)
_PLURALS = {
    "kids": "child",
    "children": "child",
    "sons": "son",
    "daughters": "daughter",
    "twins": "twin",
    "dogs": "dog",
    "cats": "cat",
    "boys": "son",
    "girls": "daughter",
}
_ADJECTIVE = (
    r"(?:(?:little|big|older|younger|baby|twin|eldest|oldest|youngest|new|dear|lovely"
    r"|old|elder|middle|step|\d{1,2}-year-old) )?"
)
_AGE = (
    r"(?: (?:is|who's|who is|just turned|turned|'s) (?P<age>\d{1,2}(?: months)?)"
    r"(?: (?:years )?old)?(?!\d|\.\d|[:%]| ?(?:am|pm|km|miles|kg|minutes|hours|times)\b))?"
)

# "our neighbour Mr Adeyemi", "my supervisor Prof. Lindqvist": the title stays with the name.
_TITLE = r"(?P<title>(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Professor)\.? )?"
_NAMED = re.compile(
    r"\b(?i:(?:my|our) " + _ADJECTIVE + r"(?P<rel>" + _REL + r")(?:'s name is|,)?"
    r" (?:is |is called |is named |named |called )?)" + _TITLE + r"(?P<x>" + NAME + r")\b" + _AGE
)


def _named(match: re.Match[str], said: Said) -> list[RuleFact]:
    title, name = match.group("title"), match.group("x")
    return _person(
        match.group("rel"), f"{title}{name}" if title else name, match.group("age"), said
    )


def _person(relation: str, name: str, age: str | None, said: Said) -> list[RuleFact]:
    relation = relation.lower()
    if name in NOT_NAMES:
        return []
    said.people.append(Person(relation, name))
    attribute = f"relation:{relation}:{name.lower()}"
    aged = f", aged {age} (as of {said_on(said.message)})" if age else ""
    text = f"Has {article(relation)} named {name}{aged}"
    return fact(FactKind.RELATION, text, attribute, 0.6, 0.8, said.message)


_HAVE = re.compile(
    r"\b(?i:(?:we|i)(?:'ve got| have got| have| got| adopted| rescued)"
    r" (?:an? |one |two |three |four |five )?"
    + _ADJECTIVE
    + r"(?P<rel>"
    + _REL
    + r"|kids|children|sons|daughters|twins|dogs|cats|boys|girls)(?:,| named| called| -))"
    r" (?P<x>" + NAME + r")(?:(?:,| and|, and) (?P<y>" + NAME + r"))?\b"
)


def _have(match: re.Match[str], said: Said) -> list[RuleFact]:
    relation = match.group("rel").lower()
    relation = _PLURALS.get(relation, relation)
    names = [n for n in (match.group("x"), match.group("y")) if n]
    return [f for name in names for f in _person(relation, name, None, said)]


_CALLED = re.compile(
    r"\b(?i:(?:she|he|it)(?:'s| is)|(?:we|i)(?:'ve| have)? (?:got|have|adopted|rescued|bought"
    r"|picked up)|(?:we|i)(?:'re| are|'m| am) (?:getting|adopting|picking up))"
    r" (?i:an? |our |my )?(?:[a-z-]{2,15} ){0,2}(?P<rel>(?i:" + _ANIMAL + r"))"
    r" (?i:called|named) (?P<x>" + NAME + r")\b"
    r"|\b(?i:(?:we|i)(?:'re| are|'m| am) (?:calling|naming|going to call|going to name"
    r"|gonna call) (?:him|her|it|them)) (?P<y>" + NAME + r")\b"
)
_ANIMAL_SAID = re.compile(r"\b(?P<rel>" + _ANIMAL + r")\b", re.IGNORECASE)
_LOOK_BACK = 300  # characters before "we're calling her Maple" where the animal is named


def _called(match: re.Match[str], said: Said) -> list[RuleFact]:
    if match.group("x"):
        return _person(match.group("rel"), match.group("x"), None, said)
    animals = _ANIMAL_SAID.findall(said_before(said, match.start(), _LOOK_BACK))
    if not animals:
        return []
    return _person(animals[-1], match.group("y"), None, said)


_KIDS_SAID = re.compile(
    r"\b(?:kids|children|sons|daughters|son|daughter|toddler|twins|boys|girls)\b", re.IGNORECASE
)
_BARE_AGE = re.compile(
    r"(?:^|(?<=, )|(?<=\band ))(?P<x>" + NAME + r") (?:is|just turned|turned|'s)"
    r" (?P<age>\d{1,2}(?: months)?)"
    r"(?: (?:years )?old)?(?!\d|\.\d|[:%]| ?(?:am|pm|km|miles|kg|minutes|hours|times|o'clock)\b)"
)


def _bare_age(match: re.Match[str], said: Said) -> list[RuleFact]:
    """A name and an age ("Mia is 7"): a child of the user's, once the user has said they
    have children."""
    if not _KIDS_SAID.search(said_before(said, match.start(), _LOOK_BACK)):
        return []
    return _person("child", match.group("x"), match.group("age"), said)


_ONE_OF_THEIRS = re.compile(
    r"\b(?P<pos>(?i:her|his)) (?P<rel>(?i:" + _alternation(_RELATIONS) + r")),?"
    r" (?P<x>" + NAME + r")\b"
)


def _one_of_theirs(match: re.Match[str], said: Said) -> list[RuleFact]:
    """Someone of someone's ("her fiancé Marco"): the last woman (or man) the user named."""
    pos, relation, name = match.group("pos").lower(), match.group("rel").lower(), match.group("x")
    gender = _FEMALE if pos == "her" else _MALE
    whose = next((p for p in reversed(said.people) if p.relation in gender), None)
    if whose is None or name in NOT_NAMES:
        return []
    said.people.append(Person(relation, name))
    text = f"{whose.name}'s {relation} is {name}"
    attribute = f"relation:{whose.name.lower()}:{relation}:{name.lower()}"
    return fact(FactKind.RELATION, text, attribute, 0.5, 0.7, said.message)


_KIN = (
    "parents|folks|in-laws|family|grandparents|mum|mom|dad|mother|father|grandma|grandpa"
    "|brother|sister|son|daughter|kids|children|cousins|aunt|uncle|sister-in-law"
    "|brother-in-law|mother-in-law|father-in-law"
)
_PLURAL_KIN = frozenset(
    _words("parents, folks, in-laws, family, grandparents, kids, children, cousins")
)
_KIN_LIVES = re.compile(
    r"\b(?i:(?:my|our) (?P<rel>" + _KIN + r"))(?: (?P<name>" + NAME + r"))?"
    r"(?: (?i:(?:still |now |also )?(?:lives?|are|is|stays?)))?"
    r" (?i:(?:up |down |over |back |out )?in)"
    r" (?P<x>" + PLACE + r")"
)


def _kin_lives(match: re.Match[str], said: Said) -> list[RuleFact]:
    relation, place, name = match.group("rel").lower(), match.group("x"), match.group("name")
    if place.split()[0] in NOT_NAMES or (name and name in NOT_NAMES):
        return []
    who = f"Their {relation}" + (f" {name}" if name else "")
    verb = "live" if relation in _PLURAL_KIN else "lives"
    attribute = f"relation:{relation}:home"
    return fact(FactKind.RELATION, f"{who} {verb} in {place}", attribute, 0.5, 0.7, said.message)


RULES = (
    Rule(_NAMED, _named),
    Rule(_HAVE, _have),
    Rule(_CALLED, _called),
    Rule(_BARE_AGE, _bare_age),
    Rule(_ONE_OF_THEIRS, _one_of_theirs),
    Rule(_KIN_LIVES, _kin_lives),
)
